# Store.KV.Engine benchmarks: `make bench`, or
#   cd elixir && MIX_ENV=prod mix run --no-start bench/bench.exs [--quick] [--out FILE.md]
#     [--go GO_BENCH.txt] [--only "name,name"] [--secs S] [--spin US] [--busy-spin US]
#     [--reply-spin US] [--no-reply-socket]
# One workload per row, each next to ping (the whole path but RocksDB).
# 200k keys, 100-byte values, 512 MiB LRU cache, bloom 10, lz4.
Code.require_file("settle.exs", __DIR__)
Code.require_file("proc_cpu.exs", __DIR__)
Code.require_file("harness.exs", __DIR__)
Code.require_file("report.exs", __DIR__)

alias Store.KV.Engine

{opts, _, _} =
  OptionParser.parse(System.argv(),
    strict: [
      quick: :boolean,
      out: :string,
      go: :string,
      nif: :string,
      only: :string,
      secs: :float,
      spin: :integer,
      busy_spin: :integer,
      reply_spin: :integer,
      reply_socket: :boolean
    ]
  )

secs = opts[:secs] || if opts[:quick], do: 1.0, else: 3.0
n_keys = 200_000
{:ok, _} = Application.ensure_all_started(:logger)
# Store.KV.RocksDB's tables; the application itself would also start the
# engine its config names (prod: /var/lib/spiredb).
{:ok, _} = Store.KV.RocksDB.Registry.start_link([])
Logger.configure(level: :warning)
dir = Path.expand("../var/bench-elixir", File.cwd!())
File.rm_rf!(dir)
# --spin N, --busy-spin N: the sidecar's flags in µs, for A/B runs of the
# reader's polling.
# --reply-spin N, --[no-]reply-socket: the engine's reply channel.
spin_opts = Keyword.take(opts, [:spin, :busy_spin, :reply_spin, :reply_socket])

e = Bench.start_engine(dir, :bench_engine, spin_opts)

# The same database through erlang-rocksdb's API (Store.KV.RocksDB).
db = Engine.get_db_ref(:bench_engine)
value = :binary.copy("x", 100)
Bench.load(e, n_keys, value)
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

# Keys are built once for the plain rows: formatting one per call
# (String.pad_leading) is a sizable share of a get's BEAM work; the "app"
# rows (callers that build their keys, as applications do) pay it on purpose.
# persistent_term hands the tuple to every caller without a copy.
:persistent_term.put({Bench, :keys}, List.to_tuple(for i <- 0..(n_keys - 1), do: Bench.key(i)))
random_key = fn -> elem(:persistent_term.get({Bench, :keys}), :rand.uniform(n_keys) - 1) end

get_fun = fn -> {:ok, _} = Engine.get(e, random_key.()) end

# Callers as applications are: each call builds its key and matches the result, as
# application code does between calls.
built_key = fn ->
  "user:" <> String.pad_leading(Integer.to_string(:rand.uniform(n_keys) - 1), 8, "0")
end

app_get = fn -> {:ok, _} = Engine.get(e, built_key.()) end

app_missing = fn ->
  {:error, :not_found} =
    Engine.get(e, "nope:" <> String.pad_leading(Integer.to_string(:rand.uniform(n_keys)), 8, "0"))
end

app_counter = :counters.new(1, [])

app_put = fn ->
  :counters.add(app_counter, 1, 1)

  :ok =
    Engine.put(
      e,
      "app:" <> String.pad_leading(Integer.to_string(:counters.get(app_counter, 1)), 8, "0"),
      value
    )
end

rows = fn batches -> Enum.reduce(batches, 0, fn {r, _}, acc -> acc + length(r) end) end

rocksdb_get = fn -> {:ok, _} = Store.KV.RocksDB.get(db, random_key.(), []) end

# A walk as SpireDB's modules write them: seek, then :next until done.
walk = fn itr, start, n ->
  {:ok, _, _} = Store.KV.RocksDB.iterator_move(itr, {:seek, start})
  for _ <- 2..n//1, do: {:ok, _, _} = Store.KV.RocksDB.iterator_move(itr, :next)
end

start_key = fn -> elem(:persistent_term.get({Bench, :keys}), :rand.uniform(n_keys - 2000)) end

# Reads first, on the 200k keys as loaded, flushed and compacted (the
# in-process baseline's state); then the writes, whose fresh keys would
# otherwise sit in the memtable that every later get searches first.
workloads = [
  {"ping, 1 caller", 1, 1, fn -> :ok = Engine.ping(e) end},
  {"get cached, 1 caller", 1, 1, get_fun},
  {"get missing, 1 caller", 1, 1,
   fn ->
     {:error, :not_found} = Engine.get(e, "nope:" <> Integer.to_string(:rand.uniform(1_000_000)))
   end},
  {"ping, 16 callers", 16, 1, fn -> :ok = Engine.ping(e) end},
  {"get cached, 16 callers", 16, 1, get_fun},
  {"app get, 1 caller (builds its key)", 1, 1, app_get},
  {"app get missing, 1 caller (builds its key)", 1, 1, app_missing},
  {"app get, 16 callers (build their keys)", 16, 1, app_get},
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
     start = elem(:persistent_term.get({Bench, :keys}), :rand.uniform(n_keys - 200))
     {:ok, [{r, _}]} = Engine.scan_range(e, start, "user:~", limit: 100)
     100 = length(r)
   end},
  {"100-row scans, 16 callers (scans/s)", 16, 1,
   fn ->
     start = elem(:persistent_term.get({Bench, :keys}), :rand.uniform(n_keys - 200))
     {:ok, [{_, _}]} = Engine.scan_range(e, start, "user:~", limit: 100)
   end},
  {"rocksdb: get, 1 caller", 1, 1, rocksdb_get},
  {"rocksdb: get, 16 callers", 16, 1, rocksdb_get},
  {"rocksdb: iterator walk of 1000 rows (rows/s)", 1, 1000,
   fn ->
     {:ok, itr} = Store.KV.RocksDB.iterator(db, [])
     walk.(itr, start_key.(), 1000)
     :ok = Store.KV.RocksDB.iterator_close(itr)
   end},
  {"rocksdb: seek + 2 next, held iterator (walks/s)", 1, 1,
   fn ->
     itr =
       Process.get(:bench_itr) ||
         Process.put(:bench_itr, elem(Store.KV.RocksDB.iterator(db, []), 1)) ||
         Process.get(:bench_itr)

     walk.(itr, start_key.(), 3)
   end},
  {"rocksdb: iterator + seek + 2 next + close (walks/s)", 1, 1,
   fn ->
     {:ok, itr} = Store.KV.RocksDB.iterator(db, [])
     walk.(itr, start_key.(), 3)
     :ok = Store.KV.RocksDB.iterator_close(itr)
   end},
  {"put, 1 caller", 1, 1, put_fun},
  {"put, 16 callers", 16, 1, put_fun},
  {"app put, 1 caller (builds its key)", 1, 1, app_put},
  {"app put, 16 callers (build their keys)", 16, 1, app_put},
  {"write_batch of 1000 (rows/s)", 1, 1000, batch_fun}
]

# Write workloads start from a settled LSM (see Bench.settle/1).
writes = [
  "put, 1 caller",
  "put, 16 callers",
  "app put, 1 caller (builds its key)",
  "write_batch of 1000 (rows/s)"
]

# --only "get,ping": just the workloads whose names contain one of these.
workloads =
  case opts[:only] do
    nil ->
      workloads

    only ->
      Enum.filter(workloads, fn {name, _, _, _} ->
        String.contains?(name, String.split(only, ","))
      end)
  end

IO.puts(
  "\nStore.KV.Engine through spire-port, #{System.schedulers_online()} schedulers, #{secs}s per row\n"
)

header =
  String.pad_trailing("workload", 44) <>
    String.pad_leading("ops/s", 10) <>
    String.pad_leading("p50 µs", 9) <>
    String.pad_leading("p99 µs", 9) <>
    String.pad_leading("mean µs", 9) <>
    String.pad_leading("mean/ping", 11) <>
    String.pad_leading("BEAM µs/op", 12) <> String.pad_leading("sidecar µs/op", 15)

IO.puts(header)
IO.puts(String.duplicate("-", String.length(header)))

{results, _} =
  Enum.map_reduce(workloads, %{}, fn {name, callers, per, fun}, pings ->
    if name in writes, do: Bench.settle(e)
    r = Bench.run(callers, secs, per, fun)
    pings = if String.starts_with?(name, "ping"), do: Map.put(pings, callers, r.mean), else: pings
    ratio = r.mean / Map.get(pings, callers, r.mean)

    Bench.print_row(name, r, "#{Float.round(ratio, 2)}x")

    {{name, callers, Map.delete(r, :lat), r.lat}, pings}
  end)

# Target 7 asks that neither the engine process's mailbox nor its pending
# table grow over 10M requests: 16 callers of gets and pings carry the
# count to 10M (the workloads above make ~2M), and both are sampled every
# 0.5 s meanwhile. --quick skips it.
{:ok, %{owner: owner}} = Store.KV.Engine.Caller.lookup(e)

pending_count = fn ->
  {:dictionary, dict} = Process.info(owner, :dictionary)
  Enum.count(dict, fn {k, _} -> is_integer(k) end)
end

soak_line =
  if opts[:quick] do
    nil
  else
    # The rows before it leave flushes, compactions and dirty pages
    # behind; a soak that starts on them reads 8-45% lower (README,
    # performance.md). Start it from a settled LSM and disk.
    Bench.settle(e)
    System.cmd("sync", [])
    Process.sleep(1_000)
    {:ok, %{sidecar: %{requests: before}}} = Engine.get_stats(e)
    goal = 10_000_000
    done = :atomics.new(1, [])

    callers =
      for c <- 1..16 do
        Task.async(fn ->
          :rand.seed(:exsss, {c, 3, 5})

          Stream.repeatedly(fn ->
            if rem(c, 4) == 0, do: :ok = Engine.ping(e), else: get_fun.()
            :atomics.get(done, 1) == 0
          end)
          |> Enum.find(&(!&1))
        end)
      end

    sample = fn sample, maxima ->
      Process.sleep(500)
      {:message_queue_len, mailbox} = Process.info(owner, :message_queue_len)
      {:ok, %{sidecar: %{requests: n}}} = Engine.get_stats(e)

      maxima = %{
        mailbox: max(maxima.mailbox, mailbox),
        pending: max(maxima.pending, pending_count.())
      }

      if n < goal, do: sample.(sample, maxima), else: {n, maxima}
    end

    t0 = System.monotonic_time(:millisecond)
    {n, maxima} = sample.(sample, %{mailbox: 0, pending: 0})
    :atomics.put(done, 1, 1)
    Enum.each(callers, &Task.await(&1, 30_000))
    secs_soak = (System.monotonic_time(:millisecond) - t0) / 1000

    line =
      "requests #{before} -> #{n} (#{Bench.fmt((n - before) / secs_soak)}/s from 16 callers): " <>
        "engine process mailbox at most #{maxima.mailbox}, pending at most #{maxima.pending}"

    IO.puts("\nsoak: " <> line)
    line
  end

# "At rest": after the sidecar's trims at rest (each second for the first
# 5 s without a request) have run.
Process.sleep(6_000)
{:ok, %{sidecar: side, properties: props}} = Engine.get_stats(e)
{:ok, os_pid} = Engine.os_pid(e)
{rss_kib, 0} = System.cmd("ps", ["-o", "rss=", "-p", Integer.to_string(os_pid)])
mib = fn bytes -> Float.round(bytes / 1_048_576, 1) end
rss_mib = mib.(String.to_integer(String.trim(rss_kib)) * 1024)
cache_mib = mib.(props["rocksdb.block-cache-usage"])
mem_mib = mib.(props["rocksdb.size-all-mem-tables"])

rss =
  "#{rss_mib} MiB, of which block cache in use #{cache_mib} MiB and memtables #{mem_mib} MiB: " <>
    "#{Float.round(rss_mib - cache_mib - mem_mib, 1)} MiB beyond them"

IO.puts("\nsidecar: #{side.requests} requests, RSS #{rss}")

# Target 7: the engine process's mailbox and pending table stay empty at
# rest, whatever the number of requests before.
{:message_queue_len, mailbox} = Process.info(owner, :message_queue_len)
pending = pending_count.()

owner_line =
  "engine process after #{side.requests} requests: mailbox #{mailbox}, pending #{pending}" <>
    if(soak_line, do: "; during the soak to 10M, #{soak_line}", else: "")

IO.puts(owner_line)

GenServer.stop(e)

# The read cache: the same database, an engine with
# read_cache_size: 64 MiB (room for all 200k rows), warmed by one read of
# every key; then callers that build their keys.
cache_results =
  if opts[:only] == nil or String.contains?(opts[:only], "cache") do
    c = Bench.start_engine(dir, :bench_cached, read_cache_size: 64 * 1024 * 1024)
    rows = Bench.warm_app_gets(c, n_keys, secs, "read cache")

    {:ok, stats} = Engine.read_cache_stats(c)
    IO.puts("read cache: #{inspect(stats)}")
    GenServer.stop(c)
    rows
  else
    []
  end

# RocksDB's row cache (row_cache_size: 64 MiB, room for all 200k rows):
# a fresh database loaded, flushed and compacted as the first one was, so
# the rows compare with the plain app get rows above; warmed by one read
# of every key. The cache is in the sidecar: every get still crosses the
# pipe, but one that hits skips RocksDB's filter, index and data blocks.
row_cache_results =
  if opts[:only] == nil or String.contains?(opts[:only], "row") do
    row_dir = dir <> "-row-cache"
    File.rm_rf!(row_dir)

    rc =
      Bench.start_engine(
        row_dir,
        :bench_row_cache,
        [row_cache_size: 64 * 1024 * 1024] ++ spin_opts
      )

    Bench.load(rc, n_keys, value)
    rows = Bench.warm_app_gets(rc, n_keys, secs, "row cache")

    {:ok, %{tickers: t}} = Engine.get_stats(rc)

    IO.puts(
      "row cache: #{t["rocksdb.row.cache.hit"]} hits, #{t["rocksdb.row.cache.miss"]} misses"
    )

    GenServer.stop(rc)
    File.rm_rf!(row_dir)
    rows
  else
    []
  end

results = results ++ cache_results ++ row_cache_results

if out = opts[:out] do
  Bench.Report.write(
    out,
    results,
    opts[:go],
    secs,
    String.trim(rss) <> "; " <> owner_line,
    opts[:nif]
  )

  IO.puts("wrote #{out}")
end
