# The main job: `make demo` (or `cd elixir && mix run --no-start scripts/demo.exs`).
# Starts Store.KV.Engine on a fresh data dir, loads 100,000 user records,
# runs the seed's range scan, times point lookups and prints what RocksDB
# reports about it.

alias Store.KV.Engine

defmodule Demo do
  def bar(done, total, started) do
    width = 40
    filled = div(done * width, total)
    rate = done / max(System.monotonic_time(:microsecond) - started, 1) * 1_000_000

    IO.write(
      "\r  [#{String.duplicate("█", filled)}#{String.duplicate("░", width - filled)}] " <>
        "#{String.pad_leading(Integer.to_string(done), 7)}/#{total}  #{round(rate)} rows/s"
    )
  end

  def percentile(sorted, p), do: Enum.at(sorted, min(length(sorted) - 1, trunc(length(sorted) * p)))

  def row(label, value), do: IO.puts("  #{String.pad_trailing(label, 38)} #{value}")

  def bytes(n) when n >= 1_048_576, do: "#{Float.round(n / 1_048_576, 1)} MiB"
  def bytes(n) when n >= 1024, do: "#{Float.round(n / 1024, 1)} KiB"
  def bytes(n), do: "#{n} B"
end

{:ok, _} = Application.ensure_all_started(:logger)
Logger.configure(level: :warning)
root = System.get_env("DEMO_DIR", Path.expand("../var/demo", File.cwd!()))
File.rm_rf!(root)
total = 100_000
batch = 1_000

IO.puts("\nspire-port demo: RocksDB behind an Erlang port, data in #{root}\n")
{:ok, engine} = Engine.start_link(path: root, name: Store.KV.Engine)
{:ok, os_pid} = Engine.os_pid(engine)
IO.puts("Store.KV.Engine started; sidecar os pid #{os_pid}\n")

IO.puts("Loading #{total} user records (write_batch of #{batch}):")
started = System.monotonic_time(:microsecond)

for chunk <- Enum.chunk_every(1..total, batch) do
  ops =
    for i <- chunk do
      key = "user:" <> String.pad_leading(Integer.to_string(i), 6, "0")
      {:put, key, ~s({"id":#{i},"name":"user #{i}","email":"user#{i}@example.com","plan":"pro"})}
    end

  :ok = Engine.write_batch(engine, ops)
  done = List.last(chunk)
  if rem(done, 10_000) == 0, do: Demo.bar(done, total, started)
end

load_ms = (System.monotonic_time(:microsecond) - started) / 1000
IO.puts("\n  loaded in #{round(load_ms)} ms\n")
:ok = Engine.flush(engine)

IO.puts(~s(Engine.scan_range(engine, "user:", "user:~", batch_size: 1000\)))
{us, {:ok, batches}} = :timer.tc(fn -> Engine.scan_range(engine, "user:", "user:~", batch_size: 1000) end)
rows = Enum.reduce(batches, 0, fn {rows, _}, acc -> acc + length(rows) end)
{first_rows, first_stats} = hd(batches)
IO.puts("  #{length(batches)} batches, #{rows} rows in #{Float.round(us / 1000, 1)} ms (#{round(rows / us * 1_000_000)} rows/s)")
IO.puts("  first row: #{inspect(hd(first_rows))}")
IO.puts("  first batch stats: #{inspect(first_stats)}\n")

lookups = 20_000
IO.puts("Timing #{lookups} point lookups of random users (one caller):")

latencies =
  for _ <- 1..lookups do
    key = "user:" <> String.pad_leading(Integer.to_string(:rand.uniform(total)), 6, "0")
    {us, {:ok, _}} = :timer.tc(fn -> Engine.get(engine, key) end)
    us
  end
  |> Enum.sort()

IO.puts(
  "  p50 #{Demo.percentile(latencies, 0.5)} µs   p99 #{Demo.percentile(latencies, 0.99)} µs   " <>
    "max #{List.last(latencies)} µs   (seed promises 50-200 µs cached)\n"
)

for i <- 1..2_000, do: {:error, :not_found} = Engine.get(engine, "missing:#{i}")

{:ok, stats} = Engine.get_stats(engine)
{:ok, cache} = Engine.get_cache_info(engine)
t = stats.tickers
p = stats.properties
hits = t["rocksdb.block.cache.hit"]
misses = t["rocksdb.block.cache.miss"]

IO.puts("Engine.get_stats / Engine.get_cache_info:")
Demo.row("block cache hit ratio", "#{Float.round(100 * hits / max(hits + misses, 1), 2)} % (#{hits} hits, #{misses} misses)")
Demo.row("block cache usage / capacity", "#{Demo.bytes(cache.usage)} / #{Demo.bytes(cache.capacity)}")
Demo.row("bloom filter useful (misses skipped)", t["rocksdb.bloom.filter.useful"])
Demo.row("bytes written", Demo.bytes(t["rocksdb.bytes.written"]))
Demo.row("bytes read", Demo.bytes(t["rocksdb.bytes.read"]))
Demo.row("keys (estimate)", p["rocksdb.estimate-num-keys"])

files = for l <- 0..6, do: "L#{l}=#{p["rocksdb.num-files-at-level#{l}"]}"
Demo.row("SST files per level", Enum.join(files, " "))
Demo.row("SST files total size", Demo.bytes(p["rocksdb.total-sst-files-size"]))
Demo.row("memtable size", Demo.bytes(p["rocksdb.cur-size-all-mem-tables"]))
get = stats.histograms["rocksdb.db.get.micros"]
Demo.row("RocksDB get (inside the sidecar)", "p50 #{get.p50} µs  p99 #{get.p99} µs  (#{get.count} gets)")

# A restore drill: back the database up, restore the backup to a new path,
# and ask the restored engine the seed's scan.
backups = Path.join([root, "checkpoints", "backups"])
restored = Path.join(root, "restored")
File.rm_rf!(restored)
IO.puts("\nEngine.backup(engine, \"backups\", flush: true), then Engine.restore_backup/3 to a new path:")
{us, {:ok, info}} = :timer.tc(fn -> Engine.backup(engine, "backups", flush: true) end)
IO.puts("  backup #{info.id}: #{info.files} files, #{Demo.bytes(info.size)} in #{Float.round(us / 1000, 1)} ms (#{backups})")
{:ok, all} = Engine.list_backups(backups)
:ok = Engine.verify_backup(backups, info.id)
IO.puts("  #{length(all)} backup(s) in the directory; backup #{info.id} verified (sizes and checksums)")
:ok = Engine.purge_old_backups(backups, keep: 3)
{us, :ok} = :timer.tc(fn -> Engine.restore_backup(backups, :latest, restored) end)
IO.puts("  restored to #{restored} in #{Float.round(us / 1000, 1)} ms")
{:ok, copy} = Engine.start_link(path: restored, name: nil)
{:ok, copy_batches} = Engine.scan_range(copy, "user:", "user:~", batch_size: 1000)
copy_rows = Enum.reduce(copy_batches, 0, fn {rows, _}, acc -> acc + length(rows) end)
IO.puts("  the restored engine answers the seed's scan: #{copy_rows} rows (the live one: #{rows})")
true = copy_rows == rows
:ok = GenServer.stop(copy)

:ok = GenServer.stop(engine)
IO.puts("\nEngine stopped cleanly (RocksDB closed, LOCK released).")
