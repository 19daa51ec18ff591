defmodule Store.KV.EngineTest do
  use Store.KV.EngineCase, async: true
  @moduletag :tmp_dir

  setup %{tmp_dir: dir} do
    %{engine: start_engine(dir)}
  end

  defp load_users(engine, n) do
    ops = for i <- 1..n, do: {:put, "user:" <> String.pad_leading("#{i}", 5, "0"), "v#{i}"}
    :ok = Engine.write_batch(engine, ops)
  end

  test "get, put, delete with binary keys of any bytes and size", %{engine: e} do
    assert {:error, :not_found} = Engine.get(e, "missing")
    assert :ok = Engine.put(e, "user:1", "alice")
    assert {:ok, "alice"} = Engine.get(e, "user:1")
    assert :ok = Engine.put(e, "", "empty key")
    assert {:ok, "empty key"} = Engine.get(e, "")
    assert :ok = Engine.put(e, <<0, 255, 0>>, "")
    assert {:ok, ""} = Engine.get(e, <<0, 255, 0>>)
    big = :crypto.strong_rand_bytes(5_000_000)
    assert :ok = Engine.put(e, "big", big, sync: true)
    assert {:ok, ^big} = Engine.get(e, "big")
    assert :ok = Engine.delete(e, "user:1")
    assert :ok = Engine.delete(e, "never-there")
    assert {:error, :not_found} = Engine.get(e, "user:1")
  end

  test "bad arguments are rejected without a round trip", %{engine: e} do
    requests = sidecar_stats(e).requests
    assert {:error, {:badarg, _}} = Engine.get(e, :atom)
    assert {:error, {:badarg, _}} = Engine.put(e, "k", 42)
    assert {:error, {:badarg, _}} = Engine.put(e, 1, "v")
    assert {:error, {:badarg, _}} = Engine.delete(e, nil)
    assert {:error, {:badarg, _}} = Engine.multi_get(e, ["a", :b])
    assert {:error, {:badarg, msg}} = Engine.write_batch(e, [{:put, "a", "1"}, {:put, "b"}])
    assert msg =~ "batch entry 2"
    assert {:error, {:badarg, _}} = Engine.scan_range(e, "a", :z)
    assert {:error, {:badarg, _}} = Engine.get(e, "k", bogus: 1)
    assert {:error, {:badarg, _}} = Engine.scan_range(e, "a", "z", batch_size: 0)
    assert {:error, {:badarg, _}} = Engine.scan_range(e, "a", "z", limit: -1)
    assert {:error, {:badarg, _}} = Engine.put(e, "k", "v", sync: :yes)
    # stats itself is the one request since
    assert sidecar_stats(e).requests == requests + 1
  end

  test "multi_get keeps order and marks missing keys", %{engine: e} do
    :ok = Engine.put(e, "a", "1")
    :ok = Engine.put(e, "c", "3")
    assert {:ok, ["1", :not_found, "3"]} = Engine.multi_get(e, ["a", "b", "c"])
    assert {:ok, []} = Engine.multi_get(e, [])
  end

  test "write_batch is atomic", %{engine: e} do
    :ok = Engine.put(e, "gone", "x")
    assert :ok = Engine.write_batch(e, [{:put, "a", "1"}, {:put, "b", "2"}, {:delete, "gone"}])
    assert {:ok, "2"} = Engine.get(e, "b")
    assert {:error, :not_found} = Engine.get(e, "gone")

    assert {:error, {:unknown_column_family, "nope"}} =
             Engine.write_batch(e, [{:put, "c", "3"}, {:put, "nope", "d", "4"}])

    assert {:error, :not_found} = Engine.get(e, "c"), "a failed batch applies nothing"
  end

  test "the seed's scan_range call works as written", %{engine: engine} do
    load_users(engine, 2500)
    :ok = Engine.put(engine, "video:1", "x")

    assert {:ok, batches} = Engine.scan_range(engine, "user:", "user:~", batch_size: 1000)
    assert Enum.map(batches, fn {rows, _} -> length(rows) end) == [1000, 1000, 500]
    {rows, stats} = hd(batches)
    assert {"user:00001", "v1"} = hd(rows)
    assert %{rows_returned: 1000, bytes_read: bytes, scan_time_ms: ms} = stats
    assert bytes == Enum.reduce(rows, 0, fn {k, v}, acc -> acc + byte_size(k) + byte_size(v) end)
    assert is_float(ms) and ms >= 0
  end

  test "batches, limits, inclusive end, empty range, end of keyspace", %{engine: e} do
    load_users(e, 1000)
    {:ok, batches} = Engine.scan_range(e, "user:", "user:~", batch_size: 100)
    assert length(batches) == 10
    assert Enum.all?(batches, fn {rows, _} -> length(rows) == 100 end)

    {:ok, batches} = Engine.scan_range(e, "user:", "user:~", limit: 150)
    assert batches |> Enum.flat_map(&elem(&1, 0)) |> length() == 150

    assert {:ok, []} = Engine.scan_range(e, "zzz", "zzzz")
    {:ok, [{rows, _}]} = Engine.scan_range(e, "user:00010", "user:00020")
    assert length(rows) == 11
    assert {"user:00020", "v20"} = List.last(rows)
    {:ok, [{rows, _}]} = Engine.scan_range(e, "user:00995", "")
    assert length(rows) == 6
  end

  test "scan over binary keys", %{engine: e} do
    keys = [<<0>>, <<0, 0>>, <<1, 0, 255>>, <<255>>, <<255, 255, 0>>]
    for k <- keys, do: :ok = Engine.put(e, k, k)
    :ok = Engine.put(e, <<1>>, "")
    :ok = Engine.put(e, <<2>>, :binary.copy("v", 70_000))
    expected = [<<0>>, <<0, 0>>, <<1>>, <<1, 0, 255>>, <<2>>, <<255>>]
    {:ok, [{rows, _}]} = Engine.scan_range(e, <<0>>, <<255>>)
    assert Enum.map(rows, &elem(&1, 0)) == expected
    assert {<<1>>, ""} in rows
    assert {<<2>>, :binary.copy("v", 70_000)} in rows
    # The same rows through a cursor, in batches of 2.
    assert Enum.to_list(Engine.scan_stream(e, <<0>>, <<255>>, batch_size: 2)) == rows
  end

  test "scan_stream is lazy and closes its cursor when halted early", %{engine: e} do
    load_users(e, 1000)
    all = e |> Engine.scan_stream("user:", "user:~", batch_size: 64) |> Enum.to_list()
    assert length(all) == 1000
    assert hd(all) == {"user:00001", "v1"}

    first = e |> Engine.scan_stream("user:", "", batch_size: 10) |> Enum.take(25)
    assert length(first) == 25
    assert sidecar_stats(e).open_iterators == 0

    assert [] == e |> Engine.scan_stream("nothing:", "nothing:~") |> Enum.to_list()
    assert 150 == e |> Engine.scan_stream("user:", "user:~", limit: 150) |> Enum.count()
    assert sidecar_stats(e).open_iterators == 0
  end

  test "a stream whose consumer dies has its cursor closed", %{engine: e} do
    load_users(e, 1000)
    test = self()

    pid =
      spawn(fn ->
        e
        |> Engine.scan_stream("user:", "user:~", batch_size: 10)
        |> Stream.each(fn _ -> send(test, :row) end)
        |> Stream.run()

        Process.sleep(:infinity)
      end)

    assert_receive :row
    Process.sleep(50)
    Process.exit(pid, :kill)
    wait_until(fn -> sidecar_stats(e).open_iterators == 0 end)
  end

  test "snapshots see the state when they were taken", %{engine: e} do
    :ok = Engine.put(e, "a", "old")

    result =
      Engine.with_snapshot(e, fn snap ->
        :ok = Engine.put(e, "a", "new")
        :ok = Engine.put(e, "b", "new")
        {:ok, [{rows, _}]} = Engine.scan_range(e, "", "", snapshot: snap)
        streamed = e |> Engine.scan_stream("", "", snapshot: snap) |> Enum.to_list()

        {Engine.get(e, "a", snapshot: snap), Engine.get(e, "b", snapshot: snap), rows, streamed,
         Engine.multi_get(e, ["a", "b"], snapshot: snap)}
      end)

    assert {{:ok, "old"}, {:error, :not_found}, [{"a", "old"}], [{"a", "old"}],
            {:ok, ["old", :not_found]}} = result

    assert sidecar_stats(e).open_snapshots == 0
    assert {:ok, "new"} = Engine.get(e, "a")
  end

  test "callers that die mid-call or mid-scan leave no routing entry behind", %{engine: e} do
    load_users(e, 3000)
    {:ok, ctx} = Store.KV.Engine.Caller.lookup(e)
    test = self()

    for request <- [
          {:scan, "user:", "user:~", [batch_size: 10]},
          {:get, "user:00001", []},
          {:flush, []}
        ] do
      pid =
        spawn(fn ->
          {:ok, _ref} = Store.KV.Engine.Caller.send_request(ctx, request)
          send(test, :sent)
          Process.sleep(:infinity)
        end)

      assert_receive :sent
      Process.exit(pid, :kill)
    end

    # The engine keeps its pending requests in its process dictionary, by id.
    pending = fn ->
      {:dictionary, dict} = Process.info(ctx.owner, :dictionary)
      Enum.count(dict, fn {k, _} -> is_integer(k) end)
    end

    wait_until(fn -> pending.() == 0 end)
  end

  test "concurrent point requests are grouped into one RocksDB call, each answered", %{
    engine: e
  } do
    1..32
    |> Task.async_stream(
      fn t ->
        for i <- 1..200 do
          key = "g#{t}:#{i}"
          :ok = Engine.put(e, key, "#{t}-#{i}")
          {:ok, value} = Engine.get(e, key)
          assert value == "#{t}-#{i}"
          assert {:error, :not_found} = Engine.get(e, key <> "-missing")

          if rem(i, 10) == 0 do
            :ok = Engine.delete(e, key)
            assert {:error, :not_found} = Engine.get(e, key)
          end
        end
      end,
      max_concurrency: 32,
      timeout: 60_000
    )
    |> Stream.run()

    stats = sidecar_stats(e)
    assert stats.groups > 0
    assert stats.grouped >= 2 * stats.groups
  end

  test "a snapshot whose owner dies is released", %{engine: e} do
    test = self()

    pid =
      spawn(fn ->
        {:ok, _snap} = Engine.snapshot(e)
        send(test, :taken)
        Process.sleep(:infinity)
      end)

    assert_receive :taken
    assert sidecar_stats(e).open_snapshots == 1
    Process.exit(pid, :kill)
    wait_until(fn -> sidecar_stats(e).open_snapshots == 0 end)
  end

  test "stats and cache info show real work", %{engine: e} do
    load_users(e, 1000)
    :ok = Engine.flush(e)

    for _ <- 1..3,
        i <- 1..100,
        do: {:ok, _} = Engine.get(e, "user:" <> String.pad_leading("#{i}", 5, "0"))

    for i <- 1..100, do: {:error, :not_found} = Engine.get(e, "nope:#{i}")

    {:ok, stats} = Engine.get_stats(e)
    assert stats.tickers["rocksdb.block.cache.hit"] > 0
    assert stats.tickers["rocksdb.bloom.filter.useful"] > 0

    assert %{p50: _, p95: _, p99: _, max: _, count: count, sum: _} =
             stats.histograms["rocksdb.db.get.micros"]

    assert count >= 400
    assert stats.properties["rocksdb.num-files-at-level0"] == 1
    assert is_map(stats.column_families["default"])

    assert {:ok, %{capacity: 16_777_216, usage: usage, pinned_usage: _, strict_capacity: false}} =
             Engine.get_cache_info(e)

    assert usage > 0
  end

  test "row_cache_size: repeated point reads come from RocksDB's row cache", %{tmp_dir: dir} do
    e = start_engine(Path.join(dir, "row_cache"), row_cache_size: 8 * 1024 * 1024)
    load_users(e, 100)
    :ok = Engine.flush(e)
    hits = fn -> elem(Engine.get_stats(e), 1).tickers["rocksdb.row.cache.hit"] end

    for _ <- 1..2,
        i <- 1..100,
        do: {:ok, _} = Engine.get(e, "user:" <> String.pad_leading("#{i}", 5, "0"))

    assert hits.() >= 100
    :ok = Engine.put(e, "user:00001", "new")
    assert {:ok, "new"} = Engine.get(e, "user:00001")

    assert_raise ArgumentError, ~r/row_cache_size/, fn ->
      Store.KV.Engine.Options.validate!(path: dir, row_cache_size: -1)
    end
  end

  test "flush, compact_range, properties, delete_range, ping", %{engine: e} do
    load_users(e, 100)
    assert :ok = Engine.ping(e)
    assert :ok = Engine.flush(e)
    :ok = Engine.put(e, "user:99999", "x")
    assert :ok = Engine.flush(e)
    assert {:ok, "2"} = Engine.get_property(e, "rocksdb.num-files-at-level0")
    assert :ok = Engine.compact_range(e)
    assert {:ok, "0"} = Engine.get_property(e, "rocksdb.num-files-at-level0")
    assert {:ok, text} = Engine.get_property(e, "rocksdb.stats")
    assert text =~ "Compaction Stats"
    assert {:error, :not_found} = Engine.get_property(e, "rocksdb.no-such-property")

    assert :ok = Engine.delete_range(e, "user:00001", "user:00051")
    {:ok, [{rows, _}]} = Engine.scan_range(e, "user:", "user:~")
    assert length(rows) == 51
  end

  test "column families", %{tmp_dir: dir, engine: e} do
    assert {:ok, ["default"]} = Engine.list_column_families(e)
    assert :ok = Engine.create_column_family(e, "vectors")
    assert :ok = Engine.put(e, "k", "vec", cf: "vectors")
    assert {:error, :not_found} = Engine.get(e, "k")
    assert {:ok, "vec"} = Engine.get(e, "k", cf: "vectors")
    assert {:error, {:unknown_column_family, "nope"}} = Engine.get(e, "k", cf: "nope")

    assert :ok =
             Engine.write_batch(e, [
               {:put, "vectors", "a", "1"},
               {:put, "b", "2"},
               {:delete, "vectors", "k"}
             ])

    assert {:ok, [{[{"a", "1"}], _}]} = Engine.scan_range(e, "", "", cf: "vectors")
    assert :ok = Engine.delete_range(e, "a", "b", cf: "vectors")
    assert {:ok, []} = Engine.scan_range(e, "", "", cf: "vectors")
    assert :ok = Engine.drop_column_family(e, "vectors")
    assert {:ok, ["default"]} = Engine.list_column_families(e)

    other = start_engine(Path.join(dir, "other"), column_families: ["rows", "index"])
    assert {:ok, ["default", "index", "rows"]} = Engine.list_column_families(other)
  end

  test "checkpoints are openable copies and existing targets are refused", %{
    tmp_dir: dir,
    engine: e
  } do
    load_users(e, 100)
    assert :ok = Engine.checkpoint(e, "backup-1")
    assert {:error, {:badarg, _}} = Engine.checkpoint(e, "backup-1")
    assert {:error, {:badarg, _}} = Engine.checkpoint(e, "../outside")

    # A checkpoint is an engine layout: an engine opens it as it is.
    copy = start_engine(Path.join([dir, "checkpoints", "backup-1"]))
    assert {:ok, [{rows, _}]} = Engine.scan_range(copy, "user:", "user:~")
    assert length(rows) == 100
  end
end
