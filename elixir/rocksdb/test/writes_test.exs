defmodule RocksdbWritesTest do
  # Write options and results as the NIF's: disable_wal, flushes of several
  # families, RocksDB's refusals as {:error, {:error, Message}}.
  use ExUnit.Case, async: true
  @moduletag :tmp_dir

  test "disable_wal writes skip the WAL; with sync they are refused", %{tmp_dir: dir} do
    {:ok, db, [default, other]} =
      :rocksdb.open(
        String.to_charlist(dir),
        [create_if_missing: true, create_missing_column_families: true],
        [{~c"default", []}, {~c"other", []}]
      )

    :ok = :rocksdb.put(db, "k1", "v1", [])
    :ok = :rocksdb.put(db, "k2", "v2", disable_wal: true)
    :ok = :rocksdb.put(db, other, "k3", "v3", disable_wal: true)
    assert {:error, {:error, msg}} = :rocksdb.put(db, "k4", "v4", disable_wal: true, sync: true)
    assert to_string(msg) =~ "Sync writes has to enable WAL"

    assert {:error, {:error, _}} =
             :rocksdb.write(db, [{:put, "k5", "v"}], disable_wal: true, sync: true)

    assert :not_found = :rocksdb.get(db, "k4", [])
    assert {:ok, "v2"} = :rocksdb.get(db, "k2", [])

    {:ok, stats} = :rocksdb.stats(db)

    assert [_, "1"] = Regex.run(~r/Cumulative WAL: ([0-9]+)/, stats),
           "only k1 went through the WAL"

    assert {:ok, "1"} = :rocksdb.get_property(db, other, "rocksdb.num-entries-active-mem-table")
    :ok = :rocksdb.flush(db, [default, other], wait: true)
    assert {:ok, "0"} = :rocksdb.get_property(db, other, "rocksdb.num-entries-active-mem-table")
    :ok = :rocksdb.put(db, "k6", "v6", [])
    :ok = :rocksdb.flush(db, [], [])

    assert {:ok, "1"} = :rocksdb.get_property(db, "rocksdb.num-entries-active-mem-table"),
           "[] flushes none"

    :ok = :rocksdb.close(db)
  end

  test "approximate sizes and memtable stats; reversed ranges are refused", %{tmp_dir: dir} do
    {:ok, db} = :rocksdb.open(String.to_charlist(dir), create_if_missing: true)
    for i <- 1..100, do: :ok = :rocksdb.put(db, "k#{1000 + i}", :binary.copy("v", 1000), [])

    assert [size, 0] =
             :rocksdb.get_approximate_sizes(db, [{"k1010", "k1050"}, {"x", "y"}], :include_both)

    assert size > 0
    assert [0] = :rocksdb.get_approximate_sizes(db, [{"k1010", "k1050"}], :include_files)
    assert {:ok, {count, bytes}} = :rocksdb.get_approximate_memtable_stats(db, "k1010", "k1050")
    assert count > 0 and bytes > 0
    assert {:ok, {0, 0}} = :rocksdb.get_approximate_memtable_stats(db, "x", "y")
    assert {:error, {:badarg, _}} = :rocksdb.get_approximate_memtable_stats(db, "z", "a")
    assert_raise ArgumentError, fn -> :rocksdb.get_approximate_sizes(db, [{"a", "b"}], :none) end
    :ok = :rocksdb.close(db)
  end

  test "the transaction log carries batches to another database, single deletes included",
       %{tmp_dir: dir} do
    {:ok, src} = :rocksdb.open(String.to_charlist(Path.join(dir, "src")), create_if_missing: true)
    {:ok, dst} = :rocksdb.open(String.to_charlist(Path.join(dir, "dst")), create_if_missing: true)
    w1 = [{:put, "a", "v1"}, {:put, "c", "v3"}]
    w2 = [{:put, "d", "v4"}, {:delete, "a"}, {:single_delete, "c"}]
    :ok = :rocksdb.write(src, w1, [])
    :ok = :rocksdb.write(src, w2, [])
    {:ok, itr} = :rocksdb.tlog_iterator(src, 0)
    assert {:ok, 1, ^w1, bin1} = :rocksdb.tlog_next_update(itr)
    assert {:ok, 3, bin2} = :rocksdb.tlog_next_binary_update(itr)
    assert {:error, :invalid_iterator} = :rocksdb.tlog_next_binary_update(itr)
    :ok = :rocksdb.tlog_iterator_close(itr)
    assert_raise ArgumentError, fn -> :rocksdb.tlog_next_binary_update(itr) end

    :ok = :rocksdb.write_binary_update(dst, bin1, [])
    :ok = :rocksdb.write_binary_update(dst, bin2, [])
    assert 5 == :rocksdb.get_latest_sequence_number(dst)
    assert :not_found = :rocksdb.get(dst, "a", [])
    assert :not_found = :rocksdb.get(dst, "c", [])
    assert {:ok, "v4"} = :rocksdb.get(dst, "d", [])
    assert {:error, {:error, _}} = :rocksdb.write_binary_update(dst, "not a batch", [])
    :ok = :rocksdb.close(src)
    :ok = :rocksdb.close(dst)
  end

  # An iterator is made by a request nobody waits for; what it sees is
  # still fixed at the call, and a failed creation answers on the move.
  test "an iterator sees the database as of iterator/2", %{tmp_dir: dir} do
    {:ok, db, [_, cf]} =
      :rocksdb.open(
        String.to_charlist(Path.join(dir, "itr")),
        [create_if_missing: true, create_missing_column_families: true],
        [
          {~c"default", []},
          {~c"other", []}
        ]
      )

    :ok = :rocksdb.put(db, "a", "1", [])
    {:ok, itr} = :rocksdb.iterator(db, [])
    :ok = :rocksdb.put(db, "b", "2", [])
    assert {:ok, "a", "1"} = :rocksdb.iterator_move(itr, :first)
    assert {:error, :invalid_iterator} = :rocksdb.iterator_move(itr, :next)
    :ok = :rocksdb.iterator_close(itr)

    # Made in another process, moved in this one.
    parent = self()
    spawn(fn -> send(parent, {:itr, elem(:rocksdb.iterator(db, []), 1)}) end)
    itr2 = receive do: ({:itr, i} -> i)
    assert {:ok, "b", "2"} = :rocksdb.iterator_move(itr2, {:seek, "b"})
    :ok = :rocksdb.iterator_close(itr2)

    :ok = :rocksdb.drop_column_family(db, cf)
    {:ok, itr3} = :rocksdb.iterator(db, cf, [])
    assert {:error, _} = :rocksdb.iterator_move(itr3, :first)
    :ok = :rocksdb.close(db)
  end

  # A move that finds no iterator under its id (its making failed, or has
  # not arrived) makes it again and answers; no iterator is left behind.
  test "an iterator whose pipelined making is gone is made again", %{tmp_dir: dir} do
    {:ok, db} =
      :rocksdb.open(String.to_charlist(Path.join(dir, "remade")), create_if_missing: true)

    :ok = :rocksdb.put(db, "a", "1", [])
    {:ok, itr} = :rocksdb.iterator(db, [])
    ref = elem(itr, 1)
    [{^ref, name, _epoch, sid, _wire}] = :ets.lookup(Store.KV.RocksDB.Registry.iterators(), ref)
    :ok = Store.KV.Engine.Caller.cast(name, {:iterator_close, sid})
    assert {:ok, "a", "1"} = :rocksdb.iterator_move(itr, :first)
    {:ok, stats} = Store.KV.Engine.get_stats(name)
    assert stats.sidecar.open_iterators == 1
    :ok = :rocksdb.iterator_close(itr)
    :ok = :rocksdb.close(db)
  end
end
