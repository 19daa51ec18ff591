# spire-port (Store.KV.RocksDB) beside erlang-rocksdb's NIF, in one BEAM,
# alternated rounds, on the same data and options: 200k keys of 100 B,
# lz4, bloom 10, a 512 MiB LRU cache. Several caller shapes: callers that
# drop their results, callers that keep them, one caller, an iterator's
# life, a 1000-row walk. Run from elixir/, with the NIF built by
# ../shared/anchors/erlang-rocksdb/build.sh DIR:
#   ERL_LIBS=DIR MIX_ENV=prod mix run --no-start bench/nif_ab.exs [--rounds N] [--secs S] [--out FILE.md]
Code.require_file("proc_cpu.exs", __DIR__)

defmodule NifAB do
  @n_keys 200_000
  @value :binary.copy("v", 100)

  def key(i), do: "user:" <> String.pad_leading(Integer.to_string(i), 8, "0")

  def open(mod, dir) do
    opts = [
      create_if_missing: true,
      compression: :lz4,
      block_based_table_options: [block_cache_size: 512 * 1024 * 1024, bloom_filter_policy: 10]
    ]

    {:ok, db} = mod.open(String.to_charlist(dir), opts)

    for chunk <- Enum.chunk_every(0..(@n_keys - 1), 1000) do
      :ok = mod.write(db, for(i <- chunk, do: {:put, key(i), @value}), [])
    end

    db
  end

  # Gets/s of `callers` processes for `secs`; each builds its key and,
  # with keep, keeps its values in a list until the round ends.
  def gets(mod, db, callers, secs, keep) do
    deadline = System.monotonic_time(:millisecond) + round(secs * 1000)

    counts =
      1..callers
      |> Enum.map(fn c ->
        Task.async(fn ->
          :rand.seed(:exsss, {c, 1, 2})
          loop(mod, db, deadline, keep, 0, [])
        end)
      end)
      |> Enum.map(&Task.await(&1, :infinity))

    Enum.sum(counts) / secs
  end

  defp loop(mod, db, deadline, keep, n, acc) do
    if rem(n, 64) == 0 and System.monotonic_time(:millisecond) > deadline do
      if keep, do: length(acc), else: n
    else
      {:ok, v} = mod.get(db, key(:rand.uniform(@n_keys) - 1), [])

      acc =
        case keep do
          true -> [v | acc]
          :size -> [byte_size(v) | acc]
          false -> acc
        end

      loop(mod, db, deadline, keep, n + 1, acc)
    end
  end

  # CPU per get (µs) of 16 callers dropping their results: the BEAM's
  # and, for spire-port, its sidecar's, from /proc over the round.
  def cpu_per_get(mod, db, callers, secs) do
    side = sidecar_pid(mod, db)
    t0 = Bench.ProcCPU.micros("self") + side_micros(side)
    rate = gets(mod, db, callers, secs, false)
    t1 = Bench.ProcCPU.micros("self") + side_micros(side)
    (t1 - t0) / (rate * secs)
  end

  defp sidecar_pid(:rocksdb, _db), do: nil

  defp sidecar_pid(_mod, db) do
    {:ok, ctx} = Store.KV.Engine.Caller.lookup(elem(db, 1))
    {:os_pid, pid} = Port.info(ctx.port, :os_pid)
    pid
  end

  defp side_micros(nil), do: 0
  defp side_micros(pid), do: Bench.ProcCPU.micros(pid)

  # p50 (µs) of one caller's gets.
  def p50(mod, db, n) do
    times =
      for _ <- 1..n do
        k = key(:rand.uniform(@n_keys) - 1)
        t0 = System.monotonic_time(:nanosecond)
        {:ok, _} = mod.get(db, k, [])
        System.monotonic_time(:nanosecond) - t0
      end

    Enum.at(Enum.sort(times), div(n, 2)) / 1000
  end

  # p50 (µs) of iterator + seek + 2 x next + close.
  def iterator_life(mod, db, n) do
    times =
      for _ <- 1..n do
        k = key(:rand.uniform(@n_keys - 10) - 1)
        t0 = System.monotonic_time(:nanosecond)
        {:ok, itr} = mod.iterator(db, [])
        {:ok, _, _} = mod.iterator_move(itr, {:seek, k})
        {:ok, _, _} = mod.iterator_move(itr, :next)
        {:ok, _, _} = mod.iterator_move(itr, :next)
        :ok = mod.iterator_close(itr)
        System.monotonic_time(:nanosecond) - t0
      end

    Enum.at(Enum.sort(times), div(n, 2)) / 1000
  end

  # Rows/s of 1000-row walks (seek, then :next).
  def walk(mod, db, walks) do
    t0 = System.monotonic_time(:nanosecond)

    for _ <- 1..walks do
      {:ok, itr} = mod.iterator(db, [])
      {:ok, _, _} = mod.iterator_move(itr, {:seek, key(:rand.uniform(@n_keys - 2000) - 1)})
      for _ <- 2..1000, do: {:ok, _, _} = mod.iterator_move(itr, :next)
      :ok = mod.iterator_close(itr)
    end

    walks * 1000 / ((System.monotonic_time(:nanosecond) - t0) / 1.0e9)
  end

  def median(xs), do: Enum.at(Enum.sort(xs), div(length(xs), 2))
end

{opts, _, _} =
  OptionParser.parse(System.argv(), strict: [rounds: :integer, secs: :float, out: :string])

rounds = opts[:rounds] || 3
secs = opts[:secs] || 3.0

unless Code.ensure_loaded?(:rocksdb) and function_exported?(:rocksdb, :open, 2) do
  IO.puts(
    "no NIF on the code path: build it with ../shared/anchors/erlang-rocksdb/build.sh DIR and set ERL_LIBS=DIR"
  )

  System.halt(0)
end

Application.ensure_all_started(:logger)
Logger.configure(level: :warning)
{:ok, _} = Store.KV.RocksDB.Registry.start_link([])
{:ok, _} = DynamicSupervisor.start_link(name: Store.KV.RocksDB.Engines, strategy: :one_for_one)
tmp = Path.join(System.tmp_dir!(), "nif_ab_#{System.os_time()}")
ours = Store.KV.RocksDB

sides = [
  {"spire-port", ours, NifAB.open(ours, Path.join(tmp, "ours"))},
  {"NIF", :rocksdb, NifAB.open(:rocksdb, Path.join(tmp, "nif"))}
]

shapes = [
  {"16 callers, each result dropped (gets/s)", :higher,
   fn m, db -> NifAB.gets(m, db, 16, secs, false) end},
  {"16 callers, each keeping its values (gets/s)", :higher,
   fn m, db -> NifAB.gets(m, db, 16, secs, true) end},
  {"16 callers, each keeping each value's size (gets/s)", :higher,
   fn m, db -> NifAB.gets(m, db, 16, secs, :size) end},
  {"CPU per get, 16 callers dropping results (BEAM + sidecar, µs)", :lower,
   fn m, db -> NifAB.cpu_per_get(m, db, 16, secs) end},
  {"1 caller, get p50 (µs)", :lower, fn m, db -> NifAB.p50(m, db, 20_000) end},
  {"iterator + seek + 2 next + close, p50 (µs)", :lower,
   fn m, db -> NifAB.iterator_life(m, db, 5_000) end},
  {"1000-row walks (rows/s)", :higher, fn m, db -> NifAB.walk(m, db, 200) end}
]

# Warm both caches, then alternate which side goes first each round.
for {_, m, db} <- sides, do: NifAB.gets(m, db, 4, 2.0, false)

results =
  for {name, better, fun} <- shapes do
    samples =
      for r <- 1..rounds, reduce: %{} do
        acc ->
          order = if rem(r, 2) == 0, do: Enum.reverse(sides), else: sides

          Enum.reduce(order, acc, fn {side, m, db}, acc ->
            Map.update(acc, side, [fun.(m, db)], &[fun.(m, db) | &1])
          end)
      end

    ours_v = NifAB.median(samples["spire-port"])
    nif_v = NifAB.median(samples["NIF"])
    ratio = if better == :higher, do: ours_v / nif_v, else: nif_v / ours_v
    row = {name, ours_v, nif_v, ratio}

    IO.puts(
      "#{String.pad_trailing(name, 48)} #{Float.round(ours_v * 1.0, 1)}  #{Float.round(nif_v * 1.0, 1)}  #{Float.round(ratio, 2)}x"
    )

    row
  end

table =
  [
    "| caller shape | spire-port | NIF | spire-port vs NIF (>1: better) |",
    "|---|---:|---:|---:|"
    | for {name, o, n, r} <- results do
        fmt = fn x ->
          if x >= 1000, do: "#{Float.round(x / 1000, 1)}k", else: "#{Float.round(x * 1.0, 1)}"
        end

        "| #{name} | #{fmt.(o)} | #{fmt.(n)} | #{Float.round(r, 2)}x |"
      end
  ]
  |> Enum.join("\n")

if out = opts[:out] do
  {uname, 0} = System.cmd("uname", ["-srm"])

  File.write!(out, """
  # spire-port beside erlang-rocksdb's NIF

  `ERL_LIBS=DIR MIX_ENV=prod mix run --no-start bench/nif_ab.exs --rounds #{rounds} --secs #{secs}`
  (elixir/), #{Date.utc_today()}, #{String.trim(uname)}, #{System.schedulers_online()} schedulers.
  One BEAM, both loaded, the same data and options (200k keys of 100 B, lz4, bloom 10, 512 MiB
  LRU cache); medians of #{rounds} alternated rounds. Callers build their keys; "keeping" callers
  hold every value they read until the round ends.

  #{table}
  """)

  IO.puts("wrote #{out}")
end

for {_, m, db} <- sides, do: m.close(db)
File.rm_rf!(tmp)
