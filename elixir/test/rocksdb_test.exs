defmodule Store.KV.RocksDBTest do
  # Written from erlang-rocksdb's documented behaviour (src/rocksdb.erl
  # specs): what code written against the NIF expects.
  use Store.KV.EngineCase, async: true
  @moduletag :tmp_dir

  alias Store.KV.RocksDB, as: R

  @small [
    write_buffer_size: 4 * 1024 * 1024,
    block_based_table_options: [block_cache_size: 16 * 1024 * 1024]
  ]

  defp open!(dir, opts \\ []) do
    {:ok, db} = R.open(String.to_charlist(dir), [create_if_missing: true] ++ @small ++ opts)
    on_exit(fn -> R.close(db) end)
    db
  end

  defp fill(db, keys), do: for(k <- keys, do: :ok = R.put(db, k, "v" <> k, []))

  defp walk(itr, first_move) do
    Stream.unfold(R.iterator_move(itr, first_move), fn
      {:ok, k, _v} -> {k, R.iterator_move(itr, :next)}
      {:error, :invalid_iterator} -> nil
    end)
    |> Enum.to_list()
  end

  test "open, put, get, delete with the NIF's result shapes", %{tmp_dir: dir} do
    db = open!(dir)
    assert File.exists?(Path.join(dir, "CURRENT")), "RocksDB lives in exactly the path"
    assert :not_found = R.get(db, "k", [])
    assert :ok = R.put(db, "k", "v", [])
    assert {:ok, "v"} = R.get(db, "k", [])
    assert :ok = R.put(db, "k2", "v2", sync: true)
    assert :ok = R.delete(db, "k", [])
    assert :not_found = R.get(db, "k", [])
    assert :ok = R.write(db, [{:put, "a", "1"}, {:put, "b", "2"}, {:delete, "k2"}], [])
    assert {:ok, "1"} = R.get(db, "a", [])
    assert :not_found = R.get(db, "k2", [])
    assert :ok = R.delete_range(db, "a", "b", [])
    assert :not_found = R.get(db, "a", [])
    assert {:ok, "2"} = R.get(db, "b", [])
    assert :ok = R.flush(db, [])
    assert :ok = R.compact_range(db, :undefined, :undefined, [])
    assert {:ok, stats} = R.stats(db)
    assert stats =~ "Compaction Stats"
    assert {:ok, n} = R.get_property(db, "rocksdb.estimate-num-keys")
    assert is_binary(n)
    refute R.is_empty(db)
  end

  test "create_if_missing false refuses a path with no database", %{tmp_dir: dir} do
    assert {:error, {:db_open, msg}} = R.open(Path.join(dir, "none"), [])
    assert to_string(msg) =~ "does not exist"
  end

  test "column families: open_with_cf, create, list, drop", %{tmp_dir: dir} do
    {:ok, db, [default, users]} =
      R.open_with_cf(
        String.to_charlist(dir),
        [create_if_missing: true, create_missing_column_families: true] ++ @small,
        [{~c"default", []}, {~c"users", []}]
      )

    assert default == :default_column_family
    :ok = R.put(db, users, "u1", "alice", [])
    assert {:ok, "alice"} = R.get(db, users, "u1", [])
    assert :not_found = R.get(db, default, "u1", [])
    {:ok, extra} = R.create_column_family(db, ~c"extra", [])
    :ok = R.put(db, extra, "x", "1", sync: true)
    :ok = R.write(db, [{:put, extra, "y", "2"}, {:delete, users, "u1"}], [])
    assert {:ok, "2"} = R.get(db, extra, "y", [])
    assert :not_found = R.get(db, users, "u1", [])
    {:ok, names} = R.list_column_families(dir, [])
    assert Enum.sort(names) == [~c"default", ~c"extra", ~c"users"]
    :ok = R.drop_column_family(db, extra)
    :ok = R.close(db)

    {:ok, names} = R.list_column_families(String.to_charlist(dir), [])
    assert Enum.sort(names) == [~c"default", ~c"users"], "listed without opening"
    {:ok, db, [_, users]} = R.open_with_cf(dir, @small, [{~c"default", []}, {~c"users", []}])
    assert {:ok, "alice"} != R.get(db, users, "u1", [])
    :ok = R.close(db)
  end

  test "batches", %{tmp_dir: dir} do
    db = open!(dir)
    {:ok, b} = R.batch()
    :ok = R.batch_put(b, "a", "1")
    :ok = R.batch_put(b, "b", "2")
    :ok = R.batch_delete(b, "a")
    assert R.batch_count(b) == 3
    assert R.batch_tolist(b) == [{:put, "a", "1"}, {:put, "b", "2"}, {:delete, "a"}]
    assert :ok = R.write_batch(db, b, [])
    assert :not_found = R.get(db, "a", [])
    assert {:ok, "2"} = R.get(db, "b", [])
    assert R.batch_count(b) == 0, "a written batch is emptied, as the NIF clears it"

    # Written again, it carries only what was added since: "b" written
    # by someone else in between stays.
    :ok = R.put(db, "b", "other", [])
    :ok = R.batch_put(b, "c", "3")
    assert :ok = R.write_batch(db, b, [])
    assert {:ok, "other"} = R.get(db, "b", [])
    assert {:ok, "3"} = R.get(db, "c", [])
    :ok = R.batch_put(b, "d", "4")
    :ok = R.batch_clear(b)
    assert R.batch_count(b) == 0
    :ok = R.release_batch(b)
  end

  test "every move on empty, one-row and many-row ranges, at both ends", %{tmp_dir: dir} do
    db = open!(dir)
    {:ok, itr} = R.iterator(db, [])

    for move <- [:first, :last, {:seek, "a"}, {:seek_for_prev, "z"}, :next, :prev] do
      assert {:error, :invalid_iterator} = R.iterator_move(itr, move), "#{inspect(move)} on empty"
    end

    :ok = R.iterator_close(itr)
    fill(db, ["m"])
    {:ok, itr} = R.iterator(db, [])
    assert {:ok, "m", "vm"} = R.iterator_move(itr, :first)
    assert {:error, :invalid_iterator} = R.iterator_move(itr, :next)
    assert {:error, :invalid_iterator} = R.iterator_move(itr, :next), "stays invalid"
    assert {:ok, "m", "vm"} = R.iterator_move(itr, :last)
    assert {:error, :invalid_iterator} = R.iterator_move(itr, :prev)
    assert {:ok, "m", _} = R.iterator_move(itr, "a"), "a bare binary seeks"
    :ok = R.iterator_close(itr)

    keys = for i <- 1..300, do: "k" <> String.pad_leading("#{i}", 4, "0")
    fill(db, keys)
    {:ok, itr} = R.iterator(db, [])
    assert walk(itr, {:seek, "k"}) == keys ++ ["m"]
    assert {:ok, "m", _} = R.iterator_move(itr, :last)
    assert {:ok, "k0300", _} = R.iterator_move(itr, :prev)
    # Walking backwards from the end crosses read-ahead buffers.
    back =
      Stream.unfold(R.iterator_move(itr, {:seek_for_prev, "k0300"}), fn
        {:ok, k, _} -> {k, R.iterator_move(itr, :prev)}
        _ -> nil
      end)
      |> Enum.to_list()

    assert back == Enum.reverse(keys)
    # Turning around inside and at the edge of a buffer.
    assert {:ok, "k0010", _} = R.iterator_move(itr, {:seek, "k0010"})
    assert {:ok, "k0011", _} = R.iterator_move(itr, :next)
    assert {:ok, "k0010", _} = R.iterator_move(itr, :prev)
    assert {:ok, "k0009", _} = R.iterator_move(itr, :prev)
    assert {:ok, "k0008", _} = R.iterator_move(itr, :prev)
    assert {:ok, "k0009", _} = R.iterator_move(itr, :next)
    :ok = R.iterator_close(itr)
  end

  test "seek_for_prev between keys and before the first", %{tmp_dir: dir} do
    db = open!(dir)
    fill(db, ["b", "d", "f"])
    {:ok, itr} = R.iterator(db, [])
    assert {:ok, "d", _} = R.iterator_move(itr, {:seek_for_prev, "e"})
    assert {:ok, "d", _} = R.iterator_move(itr, {:seek_for_prev, "d"})
    assert {:ok, "f", _} = R.iterator_move(itr, {:seek_for_prev, "z"})
    assert {:error, :invalid_iterator} = R.iterator_move(itr, {:seek_for_prev, "a"})
    assert {:ok, "d", _} = R.iterator_move(itr, {:seek, "c"})
    assert {:error, :invalid_iterator} = R.iterator_move(itr, {:seek, "g"})
  end

  test "deleting while walking: the iterator keeps its view", %{tmp_dir: dir} do
    db = open!(dir)
    keys = for i <- 1..100, do: "q" <> String.pad_leading("#{i}", 3, "0")
    fill(db, keys)
    {:ok, itr} = R.iterator(db, [])

    seen =
      Stream.unfold(R.iterator_move(itr, {:seek, "q"}), fn
        {:ok, k, _} ->
          :ok = R.delete(db, k, [])
          {k, R.iterator_move(itr, :next)}

        _ ->
          nil
      end)
      |> Enum.to_list()

    assert seen == keys
    {:ok, fresh} = R.iterator(db, [])
    assert {:error, :invalid_iterator} = R.iterator_move(fresh, :first), "every key is gone"
  end

  test "refresh sees new writes; a held iterator does not", %{tmp_dir: dir} do
    db = open!(dir)
    fill(db, ["a"])
    {:ok, held} = R.iterator(db, [])
    {:ok, itr} = R.iterator(db, [])
    fill(db, ["b"])
    assert walk(held, :first) == ["a"]
    assert walk(itr, :first) == ["a"]
    assert :ok = R.iterator_refresh(itr)
    assert {:error, :invalid_iterator} = R.iterator_move(itr, :next), "unpositioned after refresh"
    assert walk(itr, :first) == ["a", "b"]
    assert walk(held, :first) == ["a"]
  end

  test "bounds and snapshots", %{tmp_dir: dir} do
    db = open!(dir)
    fill(db, ["a", "b", "c", "d", "e"])
    {:ok, itr} = R.iterator(db, iterate_lower_bound: "b", iterate_upper_bound: "d")
    assert walk(itr, :first) == ["b", "c"]
    assert {:ok, "c", _} = R.iterator_move(itr, :last)
    {:ok, snap} = R.snapshot(db)
    :ok = R.put(db, "a", "changed", [])
    :ok = R.delete(db, "e", [])
    assert {:ok, "va"} = R.get(db, "a", snapshot: snap)
    assert {:ok, "changed"} = R.get(db, "a", [])
    {:ok, old} = R.iterator(db, snapshot: snap, fill_cache: false, total_order_seek: true)
    assert walk(old, :first) == ["a", "b", "c", "d", "e"]
    :ok = R.release_snapshot(snap)
  end

  test "an iterator made in one process moves in another", %{tmp_dir: dir} do
    db = open!(dir)
    fill(db, for(i <- 1..50, do: "p#{i + 10}"))
    {:ok, itr} = R.iterator(db, [])
    assert {:ok, "p11", _} = R.iterator_move(itr, :first)
    assert {:ok, "p12", _} = R.iterator_move(itr, :next)
    task = Task.async(fn -> {R.iterator_move(itr, :next), R.iterator_move(itr, :next)} end)
    assert {{:ok, "p13", _}, {:ok, "p14", _}} = Task.await(task)
    assert {:ok, "p15", _} = R.iterator_move(itr, :next), "the position is shared"
    assert {:spire_rocksdb_iterator, _, _} = itr
    assert itr == itr
  end

  test "close twice, closed and bad handles", %{tmp_dir: dir} do
    db = open!(dir)
    {:ok, itr} = R.iterator(db, [])
    assert :ok = R.iterator_close(itr)
    assert :ok = R.iterator_close(itr)
    assert_raise ArgumentError, fn -> R.iterator_move(itr, :first) end
    assert_raise ArgumentError, fn -> R.iterator_move(make_ref(), :first) end
    assert_raise ArgumentError, fn -> R.iterator_move(nil, :first) end
    assert_raise ArgumentError, fn -> R.get(nil, "k", []) end
    assert_raise ArgumentError, fn -> R.get({:other, :thing}, "k", []) end
    assert_raise ArgumentError, fn -> R.put(db, 1, "v", []) end
    assert_raise ArgumentError, fn -> R.get(db, :not_a_cf, "k", []) end
    :ok = R.close(db)
    assert :ok = R.close(db)
    assert_raise ArgumentError, fn -> R.get(db, "k", []) end
    assert_raise ArgumentError, fn -> R.iterator(db, []) end
  end

  test "a database lives while a handle on it does, whichever process opened it", %{tmp_dir: dir} do
    parent = self()

    # The opener exits at once; the handle it sent lives on in a holder.
    spawn(fn ->
      {:ok, db} = R.open(dir, [create_if_missing: true] ++ @small)
      {:ok, itr} = R.iterator(db, [])
      send(parent, {:db, db, itr})
    end)

    holder =
      receive do
        {:db, db, itr} ->
          spawn(fn ->
            receive do
              {:use, from} ->
                send(from, {:used, R.put(db, "k", "v", []), R.iterator_move(itr, :first)})
                # Still referenced after its last use: dead terms are garbage,
                # and a collection would close the database, as the NIF's.
                receive do: (:never -> {db, itr})
            end
          end)
      end

    send(holder, {:use, self()})
    assert_receive {:used, :ok, {:error, :invalid_iterator}}, 5_000
    assert {:error, {:db_open, _}} = R.open(dir, @small), "still open: the holder has a handle"

    Process.exit(holder, :kill)
    wait_until(fn -> match?({:ok, _}, R.open(dir, @small)) end)
  end

  test "an iterator reaped while idle comes back, pooled and refreshed or not", %{tmp_dir: dir} do
    name = :"reaped_#{System.unique_integer([:positive])}"
    start_engine(dir, name: name, idle_timeout: 100)
    db = Engine.get_db_ref(name)
    fill(db, for(i <- 1..40, do: "r#{i + 10}"))
    {:ok, pooled} = R.iterator(db, [])
    {:ok, walking} = R.iterator(db, [])
    assert {:ok, "r11", _} = R.iterator_move(walking, :first)
    wait_until(fn -> match?(%{open_iterators: 0}, sidecar_stats(name)) end)
    # A pool refreshes on checkout: the reaped iterator is made again.
    assert :ok = R.iterator_refresh(pooled)
    assert {:ok, "r11", _} = R.iterator_move(pooled, :first)
    # A walk goes on from where it was, past its read-ahead.
    rest = for _ <- 1..39, do: elem(R.iterator_move(walking, :next), 1)
    assert rest == for(i <- 2..40, do: "r#{i + 10}")
    assert {:error, :invalid_iterator} = R.iterator_move(walking, :next)
    assert %{open_iterators: 2} = sidecar_stats(name)
  end

  test "options the sidecar does not apply are logged by name, and open anyway", %{tmp_dir: dir} do
    log =
      ExUnit.CaptureLog.capture_log(fn ->
        {:ok, db} =
          R.open(
            dir,
            [create_if_missing: true, db_paths: [{~c"/nowhere", 1}]] ++ @small
          )

        :ok = R.close(db)
      end)

    assert log =~ "db_paths"
  end

  test "1,000 open iterators", %{tmp_dir: dir} do
    db = open!(dir)
    fill(db, ["a", "b"])
    its = for _ <- 1..1000, do: elem(R.iterator(db, []), 1)
    assert Enum.all?(its, &match?({:ok, "a", _}, R.iterator_move(&1, :first)))
    Enum.each(its, &R.iterator_close/1)
    assert %{open_iterators: 0} = sidecar_stats(db |> elem(1))
  end

  @tag :slow
  test "the sidecar killed mid-walk: the walk goes on after the restart", %{tmp_dir: dir} do
    db = open!(dir)
    keys = for i <- 1..5000, do: "w" <> String.pad_leading("#{i}", 5, "0")
    :ok = R.write(db, Enum.map(keys, &{:put, &1, "v"}), sync: true)
    {:ok, itr} = R.iterator(db, [])
    {:ok, first, _} = R.iterator_move(itr, :first)

    seen =
      Enum.reduce(1..2999, [first], fn _, acc ->
        {:ok, k, _} = R.iterator_move(itr, :next)
        [k | acc]
      end)

    {_, name, _} = db
    {:ok, os_pid} = Engine.os_pid(name)
    System.cmd("kill", ["-9", "#{os_pid}"])
    wait_until(fn -> match?({:ok, p} when p != os_pid, Engine.os_pid(name)) end)

    rest =
      Stream.unfold(R.iterator_move(itr, :next), fn
        {:ok, k, _} -> {k, R.iterator_move(itr, :next)}
        {:error, :invalid_iterator} -> nil
        {:error, :engine_down} -> {:retry, R.iterator_move(itr, :next)}
      end)
      |> Enum.reject(&(&1 == :retry))

    assert Enum.reverse(seen) ++ rest == keys, "no row lost or repeated across the restart"
    assert {:ok, "v"} = R.get(db, "w00001", []), "handles survive the restart"
  end

  test "caches, rate limiters, statistics", %{tmp_dir: dir} do
    {:ok, cache} = R.new_cache(:lru, 32 * 1024 * 1024)
    {:ok, limiter} = R.new_rate_limiter(50 * 1024 * 1024, true)
    {:ok, stats} = R.new_statistics()
    :ok = R.set_stats_level(stats, :stats_all)
    assert [stats_level: :stats_all] = R.statistics_info(stats)

    {:ok, db} =
      R.open(dir,
        create_if_missing: true,
        block_based_table_options: [block_cache: cache, bloom_filter_policy: 10, block_size: 8192],
        rate_limiter: limiter,
        statistics: stats,
        max_background_compactions: 2,
        max_background_flushes: 1,
        some_option_the_nif_may_know: 1
      )

    assert R.cache_info(cache, :capacity) == 32 * 1024 * 1024
    assert is_integer(R.cache_info(cache, :usage))
    [options | _] = Path.wildcard(Path.join(dir, "OPTIONS-*")) |> Enum.sort(:desc)
    text = File.read!(options)
    assert text =~ ~r/^\s*block_size=8192$/m
    assert text =~ ~r/^\s*max_background_jobs=3$/m
    :ok = R.close(db)
    :ok = R.release_cache(cache)
    :ok = R.release_rate_limiter(limiter)
    :ok = R.release_statistics(stats)
  end

  test "get_db_ref shares the engine's database", %{tmp_dir: dir} do
    name = :"engine_#{System.unique_integer([:positive])}"
    start_engine(dir, name: name, column_families: ["users"])
    db = Engine.get_db_ref(name)
    {:ok, %{"users" => users, "default" => :default_column_family}} = Engine.get_cf_refs(name)
    :ok = R.put(db, users, "u", "1", [])
    assert {:ok, "1"} = Engine.get(name, "u", cf: "users")
    assert :ok = R.close(db), "closing a shared handle leaves the engine running"
    assert {:ok, "1"} = R.get(db, users, "u", [])
  end

  test "fold, fold_keys and count walk a family as the NIF's deprecated API does", %{
    tmp_dir: dir
  } do
    db = open!(dir)
    {:ok, users} = R.create_column_family(db, ~c"users", [])
    keys = for i <- 1..300, do: "k" <> String.pad_leading("#{i}", 3, "0")
    fill(db, keys)
    :ok = R.put(db, users, "u1", "alice", [])

    assert R.fold(db, fn {k, v}, acc -> [{k, v} | acc] end, [], []) ==
             Enum.reverse(for k <- keys, do: {k, "v" <> k})

    assert R.fold_keys(db, fn k, acc -> [k | acc] end, [], iterate_lower_bound: "k299") ==
             ["k300", "k299"]

    assert R.fold(db, users, fn {k, v}, acc -> [{k, v} | acc] end, [], []) == [{"u1", "alice"}]
    assert R.fold_keys(db, users, fn k, n -> n + byte_size(k) end, 0, []) == 2
    assert R.fold(db, fn _, _ -> :never end, :empty, iterate_upper_bound: "a") == :empty

    :ok = R.flush(db, [])
    assert R.count(db) in 280..320, "an estimate"
    assert is_integer(R.count(db, users))

    # The iterator each fold made is closed once it is done, even when the
    # fun raises.
    assert_raise RuntimeError, fn -> R.fold(db, fn _, _ -> raise "stop" end, 0, []) end
    wait_until(fn -> match?(%{open_iterators: 0}, sidecar_stats(elem(db, 1))) end)
  end

  test "destroy and repair work on a database no process holds open", %{tmp_dir: dir} do
    path = Path.join(dir, "db")
    db = open!(path)
    fill(db, ["a", "b"])

    assert {:error, {_kind, msg}} = R.destroy(String.to_charlist(path), [])
    assert msg =~ "lock", "refused while open: #{msg}"
    assert {:ok, "va"} = R.get(db, "a", [])
    assert {:error, _} = R.repair(path, [])

    :ok = R.close(db)
    assert :ok = R.repair(path, [])
    {:ok, db} = R.open(path, @small)
    assert {:ok, "vb"} = R.get(db, "b", [])
    :ok = R.close(db)

    assert :ok = R.destroy(path, [])
    refute File.exists?(Path.join(path, "CURRENT"))
    assert {:error, _} = R.open(path, @small), "create_if_missing is false by default"
    assert :ok = R.destroy(Path.join(dir, "never-a-database"), [])
    assert {:error, {:badarg, _}} = R.destroy(~c"", []), "not the working directory"
    assert {:error, {:db_open, _}} = R.open(~c"", create_if_missing: true)
    assert {:error, {:db_open, _}} = R.open_readonly("", [])
  end

  test "sync_wal and get_latest_sequence_number", %{tmp_dir: dir} do
    db = open!(dir)
    seq0 = R.get_latest_sequence_number(db)
    assert is_integer(seq0)
    :ok = R.put(db, "a", "1", [])
    :ok = R.delete(db, "a", [])
    :ok = R.write(db, [{:put, "b", "2"}, {:put, "c", "3"}], [])
    assert R.get_latest_sequence_number(db) == seq0 + 4
    {:ok, _} = R.get(db, "b", [])
    assert R.get_latest_sequence_number(db) == seq0 + 4, "reads take none"
    assert :ok = R.sync_wal(db)
    assert_raise ArgumentError, fn -> R.sync_wal(nil) end
  end

  test "batch save points, rollback and RocksDB's data size", %{tmp_dir: dir} do
    db = open!(dir)
    {:ok, b} = R.batch()
    assert R.batch_data_size(b) == 12, "RocksDB's empty batch: its header"
    :ok = R.batch_put(b, "k", "v")
    assert R.batch_data_size(b) == 17
    :ok = R.batch_savepoint(b)
    :ok = R.batch_delete(b, "key2")
    :ok = R.batch_delete_range(b, "a", "bb")
    assert R.batch_data_size(b) == 29
    :ok = R.batch_savepoint(b)
    :ok = R.batch_savepoint(b)
    :ok = R.batch_put(b, "k", :binary.copy("x", 200))
    assert R.batch_data_size(b) == 234, "a 200-byte value's length takes two bytes"

    assert :ok = R.batch_rollback(b)
    assert R.batch_count(b) == 3
    assert :ok = R.batch_rollback(b), "the second of two marks at the same place"
    assert R.batch_count(b) == 3
    assert :ok = R.batch_rollback(b)
    assert R.batch_tolist(b) == [{:put, "k", "v"}]
    assert {:error, _} = R.batch_rollback(b)

    :ok = R.batch_savepoint(b)
    :ok = R.batch_clear(b)
    assert {:error, _} = R.batch_rollback(b), "clearing drops the marks"
    :ok = R.batch_put(b, "after", "clear")
    :ok = R.write_batch(db, b, [])
    assert {:ok, "clear"} = R.get(db, "after", [])
  end

  test "read-only opens beside the writer, in the same BEAM", %{tmp_dir: dir} do
    rw = open!(dir)
    {:ok, users} = R.create_column_family(rw, ~c"users", [])
    :ok = R.put(rw, "k", "v", [])
    :ok = R.put(rw, users, "u1", "alice", [])

    assert {:ok, ro} = R.open_readonly(String.to_charlist(dir), [])
    assert ro != rw
    assert {:ok, "v"} = R.get(ro, "k", [])
    assert {:error, {:error, msg}} = R.put(ro, "k", "other", [])
    assert to_string(msg) =~ "read only"
    assert {:ok, "v"} = R.get(rw, "k", [])

    :ok = R.put(rw, "later", "x", [])
    assert :not_found = R.get(ro, "later", []), "seen as it was at open"

    assert {:ok, ro2, [_, ro_users]} =
             R.open_with_cf_readonly(dir, [], [{~c"default", []}, {~c"users", []}])

    assert {:ok, "x"} = R.get(ro2, "later", [])
    assert {:ok, "alice"} = R.get(ro2, ro_users, "u1", [])
    assert {:error, _} = R.open_readonly(dir, [], [{~c"default", []}, {~c"nobody", []}])

    :ok = R.close(ro)
    :ok = R.close(ro2)
    assert :ok = R.put(rw, "after", "close", []), "closing readers leaves the writer"
    assert {:ok, ro3} = R.open_readonly(dir, [])
    assert {:ok, "close"} = R.get(ro3, "after", [])
    :ok = R.close(ro3)

    missing = Path.join(dir, "none")
    assert {:error, {:db_open, _}} = R.open_readonly(missing, [])
    refute File.exists?(missing)
  end
end
