defmodule RocksdbTransactionsTest do
  # Optimistic transactions through :rocksdb: own writes read back, an
  # iterator over the transaction's view, commits, conflicts, rollbacks.
  use ExUnit.Case, async: true
  @moduletag :tmp_dir

  test "a transaction's writes are its own until it commits, and a conflict fails it", %{
    tmp_dir: dir
  } do
    {:ok, db, [_default, other]} =
      :rocksdb.open_optimistic_transaction_db(
        String.to_charlist(dir),
        [create_if_missing: true, create_missing_column_families: true],
        [{~c"default", []}, {~c"other", []}]
      )

    :ok = :rocksdb.put(db, "a", "x", [])
    {:ok, txn} = :rocksdb.transaction(db, [])
    :ok = :rocksdb.transaction_put(txn, "b", "1")
    :ok = :rocksdb.transaction_put(txn, other, "c", "2")
    :ok = :rocksdb.transaction_delete(txn, "a")
    assert :not_found = :rocksdb.get(db, "b", [])
    assert {:ok, "1"} = :rocksdb.transaction_get(txn, "b", [])
    assert :not_found = :rocksdb.transaction_get(txn, "a", [])
    {:ok, itr} = :rocksdb.transaction_iterator(txn, [])
    assert {:ok, "b", "1"} = :rocksdb.iterator_move(itr, "")
    assert {:error, :invalid_iterator} = :rocksdb.iterator_move(itr, :next)
    :ok = :rocksdb.iterator_close(itr)
    :ok = :rocksdb.transaction_commit(txn)
    :ok = :rocksdb.release_transaction(txn)
    :ok = :rocksdb.release_transaction(txn)
    assert_raise ArgumentError, fn -> :rocksdb.transaction_put(txn, "z", "z") end
    assert {:ok, "2"} = :rocksdb.get(db, other, "c", [])
    assert :not_found = :rocksdb.get(db, "a", [])

    {:ok, t2} = :rocksdb.transaction(db, [])
    :ok = :rocksdb.transaction_put(t2, "k", "txn")
    :ok = :rocksdb.put(db, "k", "other", [])
    assert {:error, {:error, msg}} = :rocksdb.transaction_commit(t2)
    assert to_string(msg) =~ "Resource busy"
    assert {:ok, "other"} = :rocksdb.get(db, "k", [])

    {:ok, t3} = :rocksdb.transaction(db, [])
    :ok = :rocksdb.transaction_put(t3, "r", "1")
    :ok = :rocksdb.transaction_rollback(t3)
    :ok = :rocksdb.transaction_commit(t3)
    assert :not_found = :rocksdb.get(db, "r", [])
    :ok = :rocksdb.close(db)

    {:ok, plain} =
      :rocksdb.open(String.to_charlist(Path.join(dir, "plain")), create_if_missing: true)

    assert {:error, {:badarg, _}} = :rocksdb.transaction(plain, [])
    :ok = :rocksdb.close(plain)
  end
end
