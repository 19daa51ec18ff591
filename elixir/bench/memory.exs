# The sidecar's peak memory under a write load spread over many column
# families, with :rocksdb's default options: 14 families, 90 MB written to
# each by a writer of its own (through Store.KV.RocksDB, which :rocksdb
# delegates to; values of --value bytes, 1 KiB by default, random 16-byte
# keys, batches of 100), and a reader of what it wrote so far.
# Reports the sidecar's peak RSS (VmHWM) and its RSS at the end. Run from
# elixir/:
#   MIX_ENV=prod mix run --no-start bench/memory.exs [--families N] [--mb MB] [--value BYTES] [--out FILE.md]
defmodule MemoryBench do
  @batch 100

  def run(families, mb, value_size) do
    Application.ensure_all_started(:logger)
    {:ok, _} = Store.KV.RocksDB.Registry.start_link([])

    {:ok, _} =
      DynamicSupervisor.start_link(name: Store.KV.RocksDB.Engines, strategy: :one_for_one)

    dir = Path.join(System.tmp_dir!(), "spire-memory-#{System.unique_integer([:positive])}")
    names = for i <- 1..families, do: {~c"cf#{i}", []}

    {:ok, db, [_default | cfs]} =
      Store.KV.RocksDB.open(
        String.to_charlist(dir),
        [create_if_missing: true, create_missing_column_families: true],
        [{~c"default", []} | names]
      )

    pid = os_pid(db)
    sampler = spawn_link(fn -> sample(elem(db, 1), pid, families, %{rss: 0}) end)
    batches = div(mb * 1_000_000, (value_size + 16) * @batch)
    started = System.monotonic_time(:millisecond)

    # Each family has a writer and a reader of what it wrote so far, so
    # data blocks go to the block cache while the memtables fill up.
    tasks =
      cfs
      |> Enum.with_index()
      |> Enum.map(fn {cf, n} ->
        progress = :atomics.new(1, [])

        {Task.async(fn -> write(db, cf, n, batches, value_size, progress) end),
         spawn_link(fn -> read(db, cf, n, progress) end)}
      end)

    for {task, reader} <- tasks do
      Task.await(task, :infinity)
      Process.unlink(reader)
      Process.exit(reader, :kill)
    end

    secs = (System.monotonic_time(:millisecond) - started) / 1000
    send(sampler, {:report, self()})
    at_peak = receive do: ({:peak, p} -> p)
    status = File.read!("/proc/#{pid}/status")
    peak = kib(status, "VmHWM")
    now = kib(status, "VmRSS")
    :ok = Store.KV.RocksDB.close(db)
    File.rm_rf!(dir)

    %{
      families: families,
      mb: mb,
      value: value_size,
      secs: secs,
      peak_mib: peak / 1024,
      end_mib: now / 1024,
      at_peak: at_peak
    }
  end

  defp write(db, cf, n, batches, value_size, progress) do
    for b <- 0..(batches - 1) do
      ops =
        for i <- (b * @batch)..(b * @batch + @batch - 1),
            do: {:put, cf, key(n, i), :crypto.strong_rand_bytes(value_size)}

      :ok = Store.KV.RocksDB.write(db, ops, [])
      :atomics.put(progress, 1, (b + 1) * @batch)
    end
  end

  # Random gets of what was written so far: their data blocks go to the
  # block cache.
  defp read(db, cf, n, progress) do
    case :atomics.get(progress, 1) do
      0 -> Process.sleep(10)
      written -> {:ok, _} = Store.KV.RocksDB.get(db, cf, key(n, :rand.uniform(written) - 1), [])
    end

    read(db, cf, n, progress)
  end

  # Random-looking 16-byte keys, so compactions have work to do.
  defp key(n, i), do: :crypto.hash(:md5, <<n::16, i::64>>)

  # Every 100 ms: the sidecar's RSS, and at its highest sample what the
  # memtables and the block cache held.
  defp sample(name, pid, families, peak) do
    receive do
      {:report, to} -> send(to, {:peak, peak})
    after
      100 ->
        rss = kib(File.read!("/proc/#{pid}/status"), "VmRSS") * 1024

        peak =
          if rss > peak.rss do
            mem =
              for cf <- ["default" | for(i <- 1..families, do: "cf#{i}")], reduce: 0 do
                acc ->
                  {:ok, v} =
                    Store.KV.Engine.get_property(name, "rocksdb.size-all-mem-tables", cf: cf)

                  acc + String.to_integer(v)
              end

            {:ok, cache} = Store.KV.Engine.get_property(name, "rocksdb.block-cache-usage")
            %{rss: rss, memtables: mem, cache: String.to_integer(cache)}
          else
            peak
          end

        sample(name, pid, families, peak)
    end
  end

  defp os_pid(db) do
    {:ok, ctx} = Store.KV.Engine.Caller.lookup(elem(db, 1))
    {:os_pid, pid} = Port.info(ctx.port, :os_pid)
    pid
  end

  defp kib(status, field) do
    [_, n] = Regex.run(~r/#{field}:\s+(\d+) kB/, status)
    String.to_integer(n)
  end
end

{opts, _, _} =
  OptionParser.parse(System.argv(),
    strict: [families: :integer, mb: :integer, value: :integer, out: :string]
  )

r = MemoryBench.run(opts[:families] || 14, opts[:mb] || 90, opts[:value] || 1024)

mib = fn bytes -> Float.round((bytes || 0) / 1_048_576, 1) end

line =
  "#{r.families} column families, #{r.mb} MB (#{r.value} B values) written to each in #{Float.round(r.secs, 1)} s: " <>
    "sidecar peak RSS #{Float.round(r.peak_mib, 1)} MiB, at the end #{Float.round(r.end_mib, 1)} MiB; " <>
    "at the highest sample: RSS #{mib.(r.at_peak[:rss])}, memtables #{mib.(r.at_peak[:memtables])}, " <>
    "block cache in use #{mib.(r.at_peak[:cache])} MiB"

IO.puts(line)

if out = opts[:out] do
  File.write!(out, """
  # The sidecar's memory under a write load over many column families

  `MIX_ENV=prod mix run --no-start bench/memory.exs` (elixir/, run by `make bench`), #{Date.utc_today()},
  #{System.schedulers_online()} schedulers, :rocksdb's default options (the memtables charged to the
  512 MiB block cache, their sum bounded at 256 MiB; docs/spiredb.md, "Memory with many column
  families"). Each family has a writer of its own and a reader of what it wrote so far.

  #{line}
  """)
end
