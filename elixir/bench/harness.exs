# The benchmark harness: callers, timing, CPU from /proc, loading, rows.
# Loaded by bench.exs.
defmodule Bench do
  # Latency histogram buckets (see loop/5).
  @buckets 3001

  def key(i), do: "user:" <> String.pad_leading(Integer.to_string(i), 8, "0")

  # Runs fun in `callers` processes for about `secs` seconds; each call is
  # timed. Returns ops/s (of `per_op` units) and latency percentiles in µs.
  def run(callers, secs, per_op \\ 1, fun) do
    deadline = :erlang.monotonic_time(:nanosecond) + round(secs * 1_000_000_000)
    hist = :atomics.new(@buckets, [])
    sum = :atomics.new(1, [])

    tasks =
      for c <- 1..callers do
        Task.async(fn ->
          :rand.seed(:exsss, {c, 7, 11})
          loop(fun, deadline, hist, sum, 0)
        end)
      end

    started = System.monotonic_time(:microsecond)
    cpu0 = cpu_times()
    n = tasks |> Enum.map(&Task.await(&1, :infinity)) |> Enum.sum()
    {beam, sidecar} = cpu_times()
    elapsed = System.monotonic_time(:microsecond) - started
    lat = quantiles(hist, n)

    %{
      ops: n * per_op / elapsed * 1_000_000,
      # CPU time per call, in µs, of the BEAM (its schedulers' busy waiting
      # included) and of the sidecar, from /proc.
      cpu_beam: (beam - elem(cpu0, 0)) / max(n, 1),
      cpu_sidecar: (sidecar - elem(cpu0, 1)) / max(n, 1),
      n: n,
      p50: pct(lat, 0.50),
      p99: pct(lat, 0.99),
      mean: :atomics.get(sum, 1) / max(n, 1) / 1000,
      lat: lat
    }
  end

  # utime + stime of the BEAM and of the sidecar, in µs.
  def cpu_times do
    sidecar = :persistent_term.get({Bench, :os_pid}, nil)
    {Bench.ProcCPU.micros("self"), if(sidecar, do: Bench.ProcCPU.micros(sidecar), else: 0)}
  end

  # Latencies go into a shared histogram of atomics, not lists: a list of
  # every sample grew each caller's heap and its garbage collections cost
  # the 16-caller rows a large share of their throughput. Buckets are 100 ns
  # wide up to 100 µs, 10 µs up to 10 ms, 1 ms up to 1 s.
  defp loop(fun, deadline, hist, sum, n) do
    t0 = :erlang.monotonic_time(:nanosecond)
    fun.()
    t1 = :erlang.monotonic_time(:nanosecond)
    dt = t1 - t0
    :atomics.add(hist, bucket(dt), 1)
    :atomics.add(sum, 1, dt)

    if t1 < deadline, do: loop(fun, deadline, hist, sum, n + 1), else: n + 1
  end

  defp bucket(ns) when ns < 100_000, do: div(ns, 100) + 1
  defp bucket(ns) when ns < 10_000_000, do: 1000 + div(ns, 10_000) + 1
  defp bucket(ns) when ns < 1_000_000_000, do: 2000 + div(ns, 1_000_000) + 1
  defp bucket(_), do: @buckets

  # The middle of a bucket, in µs.
  defp bucket_us(b) when b <= 1000, do: ((b - 1) * 100 + 50) / 1000
  defp bucket_us(b) when b <= 2000, do: ((b - 1001) * 10_000 + 5_000) / 1000
  defp bucket_us(b) when b < @buckets, do: ((b - 2001) * 1_000_000 + 500_000) / 1000
  defp bucket_us(_), do: 1_000_000.0

  # 1000 evenly spaced quantiles (sorted µs) stand for the samples.
  defp quantiles(_hist, 0), do: []

  defp quantiles(hist, n) do
    counts = for b <- 1..@buckets, do: {b, :atomics.get(hist, b)}

    {qs, _, _} =
      Enum.reduce(counts, {[], 0, 0}, fn {b, c}, {acc, seen, next} ->
        seen = seen + c
        # Emit every quantile index j (of 1000) whose rank falls in this bucket.
        {acc, next} = emit(acc, next, seen, n, bucket_us(b))
        {acc, seen, next}
      end)

    Enum.reverse(qs)
  end

  defp emit(acc, j, seen, n, us) when j < 1000 and j * n < seen * 1000,
    do: emit([us | acc], j + 1, seen, n, us)

  defp emit(acc, j, _seen, _n, _us), do: {acc, j}

  def pct([], _), do: 0.0
  def pct(sorted, p), do: Enum.at(sorted, min(length(sorted) - 1, trunc(length(sorted) * p)))

  def settle(engine), do: Bench.Settle.settle(engine)

  # An engine with the bench's block cache; its sidecar is the one whose
  # CPU the rows report from then on.
  def start_engine(path, name, opts) do
    {:ok, e} =
      Store.KV.Engine.start_link(
        [path: path, name: name, block_cache_size: 512 * 1024 * 1024] ++ opts
      )

    {:ok, os_pid} = Store.KV.Engine.os_pid(e)
    :persistent_term.put({Bench, :os_pid}, os_pid)
    e
  end

  # n_keys keys of value, then a flush and a full compaction, so no
  # background compaction competes with the workloads.
  def load(engine, n_keys, value) do
    for chunk <- Enum.chunk_every(0..(n_keys - 1), 1000) do
      :ok = Store.KV.Engine.write_batch(engine, for(i <- chunk, do: {:put, key(i), value}))
    end

    :ok = Store.KV.Engine.flush(engine)
    :ok = Store.KV.Engine.compact_range(engine)
  end

  # Callers that build their keys, on an engine with a
  # cache, warmed first by one read of every key: the rows
  # "app get, 1 caller, <cache> (warm)" and "app get, 16 callers, ...".
  def warm_app_gets(engine, n_keys, secs, cache) do
    for i <- 0..(n_keys - 1), do: {:ok, _} = Store.KV.Engine.get(engine, key(i))

    get = fn ->
      {:ok, _} =
        Store.KV.Engine.get(
          engine,
          "user:" <> String.pad_leading(Integer.to_string(:rand.uniform(n_keys) - 1), 8, "0")
        )
    end

    for {name, callers} <- [
          {"app get, 1 caller, #{cache} (warm)", 1},
          {"app get, 16 callers, #{cache} (warm)", 16}
        ] do
      r = run(callers, secs, 1, get)
      print_row(name, r, "")
      {name, callers, Map.delete(r, :lat), r.lat}
    end
  end

  # One console row: the workload and its figures, as the header names them.
  def print_row(name, r, ratio) do
    IO.puts(
      String.pad_trailing(name, 44) <>
        String.pad_leading(fmt(r.ops), 10) <>
        String.pad_leading(fmt(r.p50), 9) <>
        String.pad_leading(fmt(r.p99), 9) <>
        String.pad_leading(fmt(r.mean), 9) <>
        String.pad_leading(ratio, 11) <>
        String.pad_leading(fmt(r.cpu_beam), 12) <>
        String.pad_leading(fmt(r.cpu_sidecar), 15)
    )
  end

  def fmt(x) when x >= 1_000_000, do: "#{Float.round(x / 1_000_000, 2)}M"
  def fmt(x) when x >= 1_000, do: "#{Float.round(x / 1_000, 1)}k"
  def fmt(x), do: "#{Float.round(x * 1.0, 1)}"
end
