# Store.KV.Engine benchmarks: `make bench`, or
#   cd elixir && MIX_ENV=prod mix run --no-start bench/bench.exs [--quick] [--out FILE.json]
# One workload per row, each next to ping (the whole path but RocksDB).
# 200k keys, 100-byte values, 512 MiB LRU cache, bloom 10, lz4.

alias Store.KV.Engine

defmodule Bench do
  def key(i), do: "user:" <> String.pad_leading(Integer.to_string(i), 8, "0")

  # Runs fun in `callers` processes for about `secs` seconds; each call is
  # timed. Returns ops/s (of `per_op` units) and latency percentiles in µs.
  def run(callers, secs, per_op \\ 1, fun) do
    parent = self()
    deadline = :erlang.monotonic_time(:nanosecond) + round(secs * 1_000_000_000)

    tasks =
      for c <- 1..callers do
        Task.async(fn ->
          :rand.seed(:exsss, {c, 7, 11})
          loop(fun, deadline, [], 0)
        end)
      end

    started = System.monotonic_time(:microsecond)
    results = Enum.map(tasks, &Task.await(&1, :infinity))
    elapsed = System.monotonic_time(:microsecond) - started
    _ = parent
    lat = results |> Enum.flat_map(&elem(&1, 0)) |> Enum.map(&(&1 / 1000)) |> Enum.sort()
    n = results |> Enum.map(&elem(&1, 1)) |> Enum.sum()

    %{
      ops: n * per_op / elapsed * 1_000_000,
      n: n,
      p50: pct(lat, 0.50),
      p99: pct(lat, 0.99),
      mean: Enum.sum(lat) / max(length(lat), 1),
      lat: lat
    }
  end

  # Latencies stay integer nanoseconds (immediates, no float boxing) until
  # the end: the harness must cost far less than what it measures.
  defp loop(fun, deadline, lat, n) do
    t0 = :erlang.monotonic_time(:nanosecond)
    fun.()
    t1 = :erlang.monotonic_time(:nanosecond)
    lat = [t1 - t0 | lat]

    if t1 < deadline, do: loop(fun, deadline, lat, n + 1), else: {lat, n + 1}
  end

  def pct([], _), do: 0.0
  def pct(sorted, p), do: Enum.at(sorted, min(length(sorted) - 1, trunc(length(sorted) * p)))

  def fmt(x) when x >= 1_000_000, do: "#{Float.round(x / 1_000_000, 2)}M"
  def fmt(x) when x >= 1_000, do: "#{Float.round(x / 1_000, 1)}k"
  def fmt(x), do: "#{Float.round(x * 1.0, 1)}"
end

{opts, _, _} = OptionParser.parse(System.argv(), strict: [quick: :boolean, out: :string])
secs = if opts[:quick], do: 1.0, else: 3.0
n_keys = 200_000
{:ok, _} = Application.ensure_all_started(:logger)
Logger.configure(level: :warning)
dir = Path.expand("../var/bench-elixir", File.cwd!())
File.rm_rf!(dir)
{:ok, e} = Engine.start_link(path: dir, name: nil, block_cache_size: 512 * 1024 * 1024)
value = :binary.copy("x", 100)

for chunk <- Enum.chunk_every(0..(n_keys - 1), 1000) do
  :ok = Engine.write_batch(e, for(i <- chunk, do: {:put, Bench.key(i), value}))
end

# Settle the LSM so no background compaction competes with the workloads.
:ok = Engine.flush(e)
:ok = Engine.compact_range(e)
# warm the cache
{:ok, _} = Engine.scan_range(e, "", "")
for i <- 0..(n_keys - 1)//7, do: {:ok, _} = Engine.get(e, Bench.key(i))

counter = :counters.new(1, [])

put_fun = fn ->
  :counters.add(counter, 1, 1)
  :ok = Engine.put(e, "new:" <> Integer.to_string(:counters.get(counter, 1)), value)
end

batch_counter = :counters.new(1, [])

batch_fun = fn ->
  :counters.add(batch_counter, 1, 1)
  base = :counters.get(batch_counter, 1) * 1000

  :ok =
    Engine.write_batch(
      e,
      for(i <- base..(base + 999), do: {:put, "batch:" <> Integer.to_string(i), value})
    )
end

get_fun = fn -> {:ok, _} = Engine.get(e, Bench.key(:rand.uniform(n_keys) - 1)) end

rows = fn batches -> Enum.reduce(batches, 0, fn {r, _}, acc -> acc + length(r) end) end

workloads = [
  {"ping, 1 caller", 1, 1, fn -> :ok = Engine.ping(e) end},
  {"get cached, 1 caller", 1, 1, get_fun},
  {"get missing, 1 caller", 1, 1,
   fn ->
     {:error, :not_found} = Engine.get(e, "nope:" <> Integer.to_string(:rand.uniform(1_000_000)))
   end},
  {"put, 1 caller", 1, 1, put_fun},
  {"ping, 16 callers", 16, 1, fn -> :ok = Engine.ping(e) end},
  {"get cached, 16 callers", 16, 1, get_fun},
  {"put, 16 callers", 16, 1, put_fun},
  {"write_batch of 1000 (rows/s)", 1, 1000, batch_fun},
  {"scan_range 200k rows, batch 1000 (rows/s)", 1, n_keys,
   fn ->
     {:ok, b} = Engine.scan_range(e, "user:", "user:~", batch_size: 1000)
     ^n_keys = rows.(b)
   end},
  {"scan_stream 200k rows, batch 1000 (rows/s)", 1, n_keys,
   fn ->
     ^n_keys = e |> Engine.scan_stream("user:", "user:~", batch_size: 1000) |> Enum.count()
   end},
  {"100-row scans, 1 caller (scans/s)", 1, 1,
   fn ->
     start = Bench.key(:rand.uniform(n_keys - 200))
     {:ok, [{r, _}]} = Engine.scan_range(e, start, "user:~", limit: 100)
     100 = length(r)
   end},
  {"100-row scans, 16 callers (scans/s)", 16, 1,
   fn ->
     start = Bench.key(:rand.uniform(n_keys - 200))
     {:ok, [{_, _}]} = Engine.scan_range(e, start, "user:~", limit: 100)
   end}
]

IO.puts(
  "\nStore.KV.Engine through spire-port, #{System.schedulers_online()} schedulers, #{secs}s per row\n"
)

header =
  String.pad_trailing("workload", 44) <>
    String.pad_leading("ops/s", 10) <>
    String.pad_leading("p50 µs", 9) <>
    String.pad_leading("p99 µs", 9) <>
    String.pad_leading("mean µs", 9) <> String.pad_leading("mean/ping", 11)

IO.puts(header)
IO.puts(String.duplicate("-", String.length(header)))

{results, _} =
  Enum.map_reduce(workloads, %{}, fn {name, callers, per, fun}, pings ->
    r = Bench.run(callers, secs, per, fun)
    pings = if String.starts_with?(name, "ping"), do: Map.put(pings, callers, r.mean), else: pings
    ratio = r.mean / Map.get(pings, callers, r.mean)

    IO.puts(
      String.pad_trailing(name, 44) <>
        String.pad_leading(Bench.fmt(r.ops), 10) <>
        String.pad_leading(Bench.fmt(r.p50), 9) <>
        String.pad_leading(Bench.fmt(r.p99), 9) <>
        String.pad_leading(Bench.fmt(r.mean), 9) <>
        String.pad_leading("#{Float.round(ratio, 2)}x", 11)
    )

    {{name, callers, Map.delete(r, :lat), r.lat}, pings}
  end)

{:ok, %{sidecar: side}} = Engine.get_stats(e)
{:ok, os_pid} = Engine.os_pid(e)
{rss, 0} = System.cmd("ps", ["-o", "rss=", "-p", Integer.to_string(os_pid)])
IO.puts("\nsidecar: #{side.requests} requests, RSS #{String.trim(rss)} KiB")

if out = opts[:out] do
  File.write!(out, :erlang.term_to_binary(results))
end

GenServer.stop(e)
