defmodule RocksdbMergeTest do
  # erlang-rocksdb's merge operators through :rocksdb's open option.
  use ExUnit.Case, async: true
  @moduletag :tmp_dir

  test "merge/4,5 and batch_merge/3,4 with each operator", %{tmp_dir: dir} do
    {:ok, db, [_, cf]} =
      :rocksdb.open(
        String.to_charlist(Path.join(dir, "erlang")),
        [
          create_if_missing: true,
          create_missing_column_families: true,
          merge_operator: :erlang_merge_operator
        ],
        [{~c"default", []}, {~c"other", []}]
      )

    :ok = :rocksdb.merge(db, "b", :erlang.term_to_binary({:binary_append, "ab"}), [])
    :ok = :rocksdb.merge(db, cf, "i", :erlang.term_to_binary({:int_add, 2}), [])
    {:ok, batch} = :rocksdb.batch()
    :ok = :rocksdb.batch_merge(batch, "b", :erlang.term_to_binary({:binary_append, "cd"}))
    :ok = :rocksdb.batch_merge(batch, cf, "i", :erlang.term_to_binary({:int_add, 3}))
    assert :rocksdb.batch_data_size(batch) > 12
    :ok = :rocksdb.write_batch(db, batch, [])
    assert {:ok, b} = :rocksdb.get(db, "b", [])
    assert :erlang.binary_to_term(b) == "abcd"
    assert {:ok, i} = :rocksdb.get(db, cf, "i", [])
    assert :erlang.binary_to_term(i) == 5
    :ok = :rocksdb.close(db)

    {:ok, c} =
      :rocksdb.open(String.to_charlist(Path.join(dir, "counter")),
        create_if_missing: true,
        merge_operator: :counter_merge_operator
      )

    :ok = :rocksdb.merge(c, "c", "5", [])
    :ok = :rocksdb.merge(c, "c", "-7", [])
    assert {:ok, "-2"} = :rocksdb.get(c, "c", [])
    :ok = :rocksdb.close(c)

    {:ok, s} =
      :rocksdb.open(String.to_charlist(Path.join(dir, "bitset")),
        create_if_missing: true,
        merge_operator: {:bitset_merge_operator, 16}
      )

    :ok = :rocksdb.merge(s, "s", "+0", [])
    assert {:ok, <<0x80, 0>>} = :rocksdb.get(s, "s", [])
    :ok = :rocksdb.close(s)
  end
end
