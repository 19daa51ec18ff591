# Backups of 1 GiB: a full backup, an incremental one after 1% new data, a
# restore, and the p99 of gets and puts from 16 callers while a backup runs
# against the same without it. `make bench` runs it after bench.exs;
# --out FILE writes the table (docs/benchmarks-backup.md).
alias Store.KV.Engine
Code.require_file("settle.exs", __DIR__)

defmodule BackupBench do
  @moduledoc false

  def key(i), do: "user:" <> String.pad_leading(Integer.to_string(i), 8, "0")

  # 16 callers, half gets and half puts, for secs: p99 of each in µs.
  def p99s(e, n_keys, secs) do
    deadline = System.monotonic_time(:millisecond) + round(secs * 1000)

    {gets, puts} =
      1..16
      |> Task.async_stream(
        fn c -> loop(e, n_keys, c, deadline, [], []) end,
        timeout: :infinity,
        max_concurrency: 16
      )
      |> Enum.reduce({[], []}, fn {:ok, {g, p}}, {ga, pa} -> {g ++ ga, p ++ pa} end)

    {pct(gets, 0.99), pct(puts, 0.99), length(gets) + length(puts)}
  end

  defp loop(e, n_keys, c, deadline, gets, puts) do
    if System.monotonic_time(:millisecond) > deadline do
      {gets, puts}
    else
      {tg, {:ok, _}} = :timer.tc(fn -> Engine.get(e, key(:rand.uniform(n_keys) - 1)) end)
      {tp, :ok} = :timer.tc(fn -> Engine.put(e, "live:#{c}:#{:rand.uniform(1_000_000)}", "v") end)
      loop(e, n_keys, c, deadline, [tg | gets], [tp | puts])
    end
  end

  defp pct([], _), do: 0
  defp pct(xs, p), do: xs |> Enum.sort() |> Enum.at(trunc(length(xs) * p))

  def dir_bytes(dir) do
    dir
    |> Path.join("**")
    |> Path.wildcard()
    |> Enum.filter(&File.regular?/1)
    |> Enum.map(&File.stat!(&1).size)
    |> Enum.sum()
  end

  def mib(b), do: "#{Float.round(b / 1_048_576, 1)} MiB"
  def secs(us), do: "#{Float.round(us / 1_000_000, 2)} s"
end

{opts, _, _} = OptionParser.parse(System.argv(), strict: [out: :string, gib: :float])
gib = opts[:gib] || 1.0
value_size = 1000
n_keys = round(gib * 1_073_741_824 / (value_size + 13))
{:ok, _} = Application.ensure_all_started(:logger)
Logger.configure(level: :warning)
root = Path.expand("../var/bench-backup", File.cwd!())
File.rm_rf!(root)
{:ok, e} = Engine.start_link(path: Path.join(root, "db"), name: nil)
IO.puts("loading #{n_keys} keys of #{value_size} random bytes (#{gib} GiB)...")

for chunk <- Enum.chunk_every(0..(n_keys - 1), 1000) do
  :ok =
    Engine.write_batch(
      e,
      for(i <- chunk, do: {:put, BackupBench.key(i), :crypto.strong_rand_bytes(value_size)})
    )
end

:ok = Engine.flush(e)
:ok = Engine.compact_range(e)
:ok = Bench.Settle.settle(e, System.monotonic_time(:millisecond) + 120_000)
{:ok, sst} = Engine.get_property(e, "rocksdb.total-sst-files-size")
IO.puts("database: #{BackupBench.mib(String.to_integer(sst))} of SST files")

bk = Path.join([root, "db", "checkpoints", "bk"])
{full_us, {:ok, full}} = :timer.tc(fn -> Engine.backup(e, "bk", flush: true) end)
full_bytes = BackupBench.dir_bytes(bk)

extra = div(n_keys, 100)

for chunk <- Enum.chunk_every(0..(extra - 1), 1000) do
  :ok =
    Engine.write_batch(
      e,
      for(
        i <- chunk,
        do: {:put, BackupBench.key(n_keys + i), :crypto.strong_rand_bytes(value_size)}
      )
    )
end

:ok = Engine.flush(e)
:ok = Bench.Settle.settle(e, System.monotonic_time(:millisecond) + 120_000)
{inc_us, {:ok, inc}} = :timer.tc(fn -> Engine.backup(e, "bk", flush: true) end)
inc_bytes = BackupBench.dir_bytes(bk) - full_bytes
{:ok, l0} = Engine.get_property(e, "rocksdb.num-files-at-level0")
IO.puts("after the incremental backup: #{inc.files} files in backup #{inc.id}, L0 files #{l0}")
restored = Path.join(root, "restored")
{restore_us, :ok} = :timer.tc(fn -> Engine.restore_backup(bk, :latest, restored) end)

{g0, p0, n0} = BackupBench.p99s(e, n_keys, 5.0)
during = Task.async(fn -> :timer.tc(fn -> Engine.backup(e, "bk-during", flush: true) end) end)
{g1, p1, n1} = BackupBench.p99s(e, n_keys, 5.0)
{during_us, {:ok, _}} = Task.await(during, :infinity)

rows = [
  {"full backup of #{gib} GiB (#{full.files} files)", BackupBench.secs(full_us),
   BackupBench.mib(full_bytes)},
  {"incremental backup after 1% new data (backup #{inc.id})", BackupBench.secs(inc_us),
   BackupBench.mib(inc_bytes) <> " added"},
  {"restore of the latest backup", BackupBench.secs(restore_us),
   BackupBench.mib(BackupBench.dir_bytes(restored))}
]

text = [
  "# Backups\n\n",
  "`make bench` (elixir/bench/backup.exs): #{n_keys} keys of #{value_size} random bytes, flushed and compacted; ",
  "backups with `flush: true` to the same file system, each taken once no flush or compaction runs ",
  "(a compaction's output is new SST files, which a backup copies). #{System.schedulers_online()} schedulers.\n\n",
  "| operation | time | bytes |\n|---|---:|---:|\n",
  for({name, t, b} <- rows, do: "| #{name} | #{t} | #{b} |\n"),
  "\n16 callers, each alternating a random get and a put, for 5 s:\n\n",
  "| | get p99 µs | put p99 µs | requests |\n|---|---:|---:|---:|\n",
  "| no backup running | #{g0} | #{p0} | #{n0} |\n",
  "| a full backup running (the first #{BackupBench.secs(during_us)} of the 5 s) | #{g1} | #{p1} | #{n1} |\n"
]

IO.puts(IO.iodata_to_binary(text))
if out = opts[:out], do: File.write!(out, text)
:ok = GenServer.stop(e)
File.rm_rf!(root)
