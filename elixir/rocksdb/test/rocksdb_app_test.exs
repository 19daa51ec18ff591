defmodule RocksdbAppTest do
  # The :rocksdb module as a project that swapped erlang-rocksdb for this
  # application calls it.
  use ExUnit.Case, async: true
  @moduletag :tmp_dir

  test "the NIF's calls work through :rocksdb", %{tmp_dir: dir} do
    {:ok, db, [_default, users]} =
      :rocksdb.open_with_cf(
        String.to_charlist(dir),
        [create_if_missing: true, create_missing_column_families: true],
        [{~c"default", []}, {~c"users", []}]
      )

    :ok = :rocksdb.put(db, users, "user:1", "alice", [])
    {:ok, "alice"} = :rocksdb.get(db, users, "user:1", [])
    :not_found = :rocksdb.get(db, "user:1", [])
    {:ok, itr} = :rocksdb.iterator(db, users, [])
    assert {:ok, "user:1", "alice"} = :rocksdb.iterator_move(itr, {:seek, "user:"})
    assert {:error, :invalid_iterator} = :rocksdb.iterator_move(itr, :next)
    :ok = :rocksdb.iterator_close(itr)
    {:ok, batch} = :rocksdb.batch()
    :ok = :rocksdb.batch_put(batch, "a", "1")
    :ok = :rocksdb.write_batch(db, batch, [])
    :ok = :rocksdb.release_batch(batch)
    {:ok, "1"} = :rocksdb.get(db, "a", [])
    assert [{"a", "1"}] = :rocksdb.fold(db, fn kv, acc -> [kv | acc] end, [], [])
    :ok = :rocksdb.close(db)
    assert_raise ArgumentError, fn -> :rocksdb.get(db, "a", []) end
    assert :ok = :rocksdb.destroy(String.to_charlist(dir), [])
    refute File.exists?(Path.join(dir, "CURRENT"))
  end

  test "the API is erlang-rocksdb's, with none of spire-port's helpers" do
    exported = :rocksdb.module_info(:exports)

    for fa <- [
          open: 2,
          open: 3,
          open_with_cf: 3,
          iterator: 3,
          iterator_move: 2,
          iterator_refresh: 1,
          iterator_close: 1,
          get: 4,
          put: 5,
          delete: 4,
          new_cache: 2,
          statistics_info: 1,
          compact_range: 4,
          fold: 4,
          fold_keys: 5,
          count: 1,
          destroy: 2,
          repair: 2,
          sync_wal: 1,
          get_latest_sequence_number: 1,
          batch_savepoint: 1,
          batch_rollback: 1,
          batch_data_size: 1,
          open_readonly: 2,
          open_with_cf_readonly: 3
        ],
        do: assert(fa in exported, inspect(fa))

    refute {:close_name, 1} in exported
    refute {:note_users, 2} in exported
  end

  test "no export is a helper hidden from the docs" do
    for {mod, fun, arity} <- Store.KV.RocksDB.__api__(),
        function_exported?(:rocksdb, fun, arity) do
      {:docs_v1, _, _, _, _, _, docs} = Code.fetch_docs(mod)

      hidden? = Enum.any?(docs, &match?({{:function, ^fun, ^arity}, _, _, :hidden, _}, &1))

      refute hidden?, "#{inspect(mod)}.#{fun}/#{arity} is @doc false but :rocksdb exports it"
    end
  end
end
