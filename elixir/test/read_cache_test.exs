defmodule Store.KV.ReadCacheTest do
  use Store.KV.EngineCase, async: true
  @moduletag :tmp_dir

  @cache [read_cache_size: 4 * 1024 * 1024]

  defp hits(e), do: elem(Engine.read_cache_stats(e), 1).hits

  test "hot keys are answered from the cache, and writes are seen at once", %{tmp_dir: dir} do
    e = start_engine(dir, @cache)
    :ok = Engine.put(e, "k", "1")
    assert {:ok, "1"} = Engine.get(e, "k")
    before = hits(e)
    assert {:ok, "1"} = Engine.get(e, "k")
    assert hits(e) == before + 1, "the second get is a hit"

    :ok = Engine.put(e, "k", "2")
    assert {:ok, "2"} = Engine.get(e, "k")
    :ok = Engine.write_batch(e, [{:put, "k", "3"}])
    assert {:ok, "3"} = Engine.get(e, "k")
    :ok = Engine.delete(e, "k")
    assert {:error, :not_found} = Engine.get(e, "k")
    :ok = Engine.put(e, "k", "4")
    assert {:ok, "4"} = Engine.get(e, "k")
    :ok = Engine.delete_range(e, "a", "z")
    assert {:error, :not_found} = Engine.get(e, "k")
    :ok = Engine.write_batch(e, [{:put, "k", "5"}, {:delete_range, "k", "l"}])
    assert {:error, :not_found} = Engine.get(e, "k")
  end

  test "snapshots, column families and the :rocksdb API", %{tmp_dir: dir} do
    e = start_engine(dir, @cache ++ [name: :cached_engine, column_families: ["cf"]])
    :ok = Engine.put(e, "k", "old")
    {:ok, snap} = Engine.snapshot(e)
    assert {:ok, "old"} = Engine.get(e, "k")
    :ok = Engine.put(e, "k", "new")
    assert {:ok, "old"} = Engine.get(e, "k", snapshot: snap), "a snapshot read bypasses the cache"
    assert {:ok, "new"} = Engine.get(e, "k")
    :ok = Engine.put(e, "k", "in cf", cf: "cf")
    assert {:ok, "new"} = Engine.get(e, "k"), "another family is another key"
    assert {:ok, "in cf"} = Engine.get(e, "k", cf: "cf")

    db = Engine.get_db_ref(:cached_engine)
    :ok = Store.KV.RocksDB.put(db, "k", "via rocksdb", [])
    assert {:ok, "via rocksdb"} = Engine.get(e, "k")
    assert {:ok, "via rocksdb"} = Store.KV.RocksDB.get(db, "k", [])
    :ok = Store.KV.RocksDB.write(db, [{:put, "k", "batch"}], [])
    assert {:ok, "batch"} = Store.KV.RocksDB.get(db, "k", [])
  end

  @tag :slow
  test "a sidecar restart starts with an empty cache", %{tmp_dir: dir} do
    name = :"restart_#{System.unique_integer([:positive])}"
    start_engine(dir, @cache ++ [name: name])
    :ok = Engine.put(name, "k", "1")
    {:ok, "1"} = Engine.get(name, "k")
    {:ok, os_pid} = Engine.os_pid(name)
    System.cmd("kill", ["-9", "#{os_pid}"])
    wait_until(fn -> match?({:ok, p} when p != os_pid, Engine.os_pid(name)) end)
    assert {:ok, %{hits: 0, entries: 0}} = Engine.read_cache_stats(name)
    assert {:ok, "1"} = Engine.get(name, "k")
  end

  # Writers own their keys and record, after each acknowledgement, the
  # op's counter and kind; readers check each read against what was
  # acknowledged before it began. Values are the counters, so they only
  # grow per key.
  defp stress(e, secs) do
    acked = :ets.new(:acked, [:public, :set])
    issued_deletes = :ets.new(:deletes, [:public, :set])
    stop = System.monotonic_time(:millisecond) + secs * 1000
    keys = for w <- 1..8, k <- 1..8, do: {w, "s#{w}:#{k}"}

    writers =
      for w <- 1..8 do
        mine = for {^w, k} <- keys, do: k
        Task.async(fn -> write_loop(e, mine, 1, acked, issued_deletes, stop) end)
      end

    readers =
      for _ <- 1..8 do
        Task.async(fn ->
          read_loop(e, Enum.map(keys, &elem(&1, 1)), acked, issued_deletes, stop, 0, [])
        end)
      end

    Enum.each(writers, &Task.await(&1, (secs + 30) * 1000))

    {reads, violations} =
      Enum.reduce(readers, {0, []}, fn t, {n, v} ->
        {n2, v2} = Task.await(t, (secs + 30) * 1000)
        {n + n2, v ++ v2}
      end)

    {reads, violations}
  end

  defp write_loop(e, keys, c, acked, deletes, stop) do
    if System.monotonic_time(:millisecond) < stop do
      key = Enum.random(keys)
      v = Integer.to_string(c)

      kind =
        case rem(c, 7) do
          0 ->
            :ets.insert(deletes, {key, c})
            :ok = Engine.delete(e, key)
            :deleted

          1 ->
            :ets.insert(deletes, {key, c})
            :ok = Engine.delete_range(e, key, key <> <<0>>)
            :deleted

          2 ->
            :ok = Engine.write_batch(e, [{:put, key, v}, {:put, "cf-free:" <> key, v}])
            :value

          3 ->
            :ok = Engine.put(e, key, v, sync: true)
            :value

          _ ->
            :ok = Engine.put(e, key, v)
            :value
        end

      :ets.insert(acked, {key, c, kind})
      write_loop(e, keys, c + 1, acked, deletes, stop)
    else
      :ok
    end
  end

  defp read_loop(e, keys, acked, deletes, stop, n, violations) do
    if System.monotonic_time(:millisecond) < stop do
      key = Enum.random(keys)
      before = :ets.lookup(acked, key)
      result = Engine.get(e, key)
      violations = check(key, before, result, deletes) ++ violations
      read_loop(e, keys, acked, deletes, stop, n + 1, violations)
    else
      {n, violations}
    end
  end

  defp check(_key, [], _result, _deletes), do: []

  defp check(key, [{_, c, kind}], result, deletes) do
    ok? =
      case result do
        {:ok, v} ->
          seen = String.to_integer(v)
          if kind == :value, do: seen >= c, else: seen > c

        {:error, :not_found} ->
          kind == :deleted or match?([{_, d}] when d > c, :ets.lookup(deletes, key))
      end

    if ok?, do: [], else: [{key, {c, kind}, result}]
  end

  test "stress: no read returns a value older than an acknowledged write", %{tmp_dir: dir} do
    e = start_engine(dir, @cache)
    {reads, violations} = stress(e, 3)
    assert violations == []
    {:ok, stats} = Engine.read_cache_stats(e)
    assert stats.hits > 0, "the cache served reads: #{inspect(stats)} of #{reads}"
  end

  # SPIRE_STRESS_SECS=600 runs it for ten minutes.
  @tag :slow
  @tag timeout: :infinity
  test "stress, long and with a small cache that keeps filling up", %{tmp_dir: dir} do
    e = start_engine(dir, read_cache_size: 4096)
    secs = String.to_integer(System.get_env("SPIRE_STRESS_SECS", "20"))
    {reads, violations} = stress(e, secs)
    IO.puts("\nread cache stress: #{reads} reads in #{secs} s, #{length(violations)} violations")
    assert violations == []
    assert reads > 10_000
  end
end
