# docs/benchmarks.md and its latency chart, from the results of bench.exs.
defmodule Bench.Report do
  # docs/benchmarks.md: the machine, the date, the commands, the Go figures
  # with their ratios to the in-process engine, the Elixir table, and an SVG
  # of the latency distributions beside it.

  def write(path, results, go_file, secs, rss, nif_file) do
    svg = Path.rootname(path) <> "-latency.svg"
    File.write!(svg, svg(results))

    File.write!(path, [
      "# Benchmarks\n\n",
      "Measured #{Date.utc_today()} on #{machine()} with `make bench`, which runs\n",
      "`go test ./engine ./port ./port/client -run '^$' -bench . -benchtime 2s` and then\n",
      "`cd elixir && MIX_ENV=prod mix run --no-start bench/bench.exs --out ../docs/benchmarks.md --go ../var/bench-go.txt`.\n",
      "Data: 200k keys of 13 bytes, 100-byte values, 512 MiB LRU cache, bloom 10, lz4.\n\n",
      go_section(go_file),
      "## Through Store.KV.Engine (Elixir, #{System.schedulers_online()} schedulers, #{secs} s per row)\n\n",
      "Each row runs its workload for #{secs} s; `mean/ping` divides its mean latency by the mean of\n",
      "`ping` with the same number of callers (the whole path but RocksDB). Reads run first, on the\n",
      "200k keys as loaded, flushed and compacted; the writes come last, each from a settled LSM\n",
      "(memtable flushed, no compaction running). Then 16 callers carry the sidecar to 10M requests\n",
      "while the engine process's mailbox and pending table are sampled.\n\n",
      "| workload | ops/s | p50 µs | p99 µs | mean µs | mean/ping | BEAM CPU µs/op | sidecar CPU µs/op |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
      table(results),
      "\nSidecar RSS at rest (6 s after the last request): #{rss}.\n\n",
      nif_section(nif_file),
      "![latency distribution](#{Path.basename(svg)})\n"
    ])
  end

  # The side-by-side table bench/nif_ab.exs wrote in this `make bench`
  # (both backends in one BEAM, alternated rounds), or why there is none.
  defp nif_section(nil) do
    [
      "## Beside the erlang-rocksdb NIF\n\n",
      "Skipped: no NIF build was found (`../shared/anchors/erlang-rocksdb/build.sh var/nif` builds it; ",
      "`make bench NIF=DIR` names another).\n\n"
    ]
  end

  defp nif_section(file) do
    rows =
      file |> File.read!() |> String.split("\n") |> Enum.filter(&String.starts_with?(&1, "|"))

    [
      "## Beside the erlang-rocksdb NIF\n\n",
      "Both in one BEAM, the same data and options, medians of alternated rounds ",
      "(`bench/nif_ab.exs`, run by this `make bench` before the rows above were measured; ",
      "[benchmarks-nif.md](benchmarks-nif.md) has its command). Callers build their keys; ",
      "\"keeping\" callers hold what they read until the round ends.\n\n",
      Enum.map(rows, &[&1, "\n"]),
      "\n"
    ]
  end

  defp machine do
    cpu =
      case File.read("/proc/cpuinfo") do
        {:ok, text} ->
          (Regex.run(~r/model name\s*:\s*(.*)/, text) || [nil, "unknown CPU"]) |> Enum.at(1)

        _ ->
          "unknown CPU"
      end

    "#{:erlang.system_info(:logical_processors)} vCPU (#{String.trim(cpu)}), OTP #{System.otp_release()}, Elixir #{System.version()}"
  end

  defp table(results) do
    {rows, _} =
      Enum.map_reduce(results, %{}, fn {name, callers, r, _lat}, pings ->
        pings =
          if String.starts_with?(name, "ping"), do: Map.put(pings, callers, r.mean), else: pings

        ratio = r.mean / Map.get(pings, callers, r.mean)

        {"| #{name} | #{Bench.fmt(r.ops)} | #{Bench.fmt(r.p50)} | #{Bench.fmt(r.p99)} | #{Bench.fmt(r.mean)} | #{Float.round(ratio, 2)}x | #{Bench.fmt(r.cpu_beam)} | #{Bench.fmt(r.cpu_sidecar)} |\n",
         pings}
      end)

    rows
  end

  defp go_section(nil), do: ""

  defp go_section(file) do
    case File.read(file) do
      {:ok, text} ->
        lines = text |> String.split("\n") |> Enum.filter(&String.starts_with?(&1, "Benchmark"))

        ns =
          Map.new(lines, fn l ->
            {l |> String.split() |> hd() |> String.replace(~r/-\d+$/, ""), parse_ns(l)}
          end)

        ratios =
          for {port, eng} <- [
                {"BenchmarkPortGet/seq", "BenchmarkGetCached"},
                {"BenchmarkPortPut/seq", "BenchmarkPut"},
                {"BenchmarkDispatchGet", "BenchmarkEngineGetSameKey"},
                {"BenchmarkPortWriteBatch1000", "BenchmarkWriteBatch1000"},
                {"BenchmarkPortScan200k", "BenchmarkScan100k"}
              ],
              ns[port] && ns[eng] do
            per_row =
              if port =~ "Scan",
                do: {ns[port] / 200_000, ns[eng] / 100_000},
                else: {ns[port], ns[eng]}

            {a, b} = per_row
            "| #{port} | #{eng} | #{Float.round(a / b, 2)}x |\n"
          end

        [
          "## Go: in-process engine, the sidecar's own CPU, and the binary through the Go client\n\n",
          "```\n",
          Enum.join(lines, "\n"),
          "\n```\n\n",
          "| through the sidecar | in-process engine | time per op (or row), ratio |\n|---|---|---:|\n",
          ratios,
          "\n"
        ]

      _ ->
        ""
    end
  end

  defp parse_ns(line) do
    case Regex.run(~r/\s([\d.]+) ns\/op/, line) do
      [_, n] -> String.to_float(if n =~ ".", do: n, else: n <> ".0")
      _ -> nil
    end
  end

  # Cumulative distributions of the single-caller latencies, log-scale x.
  defp svg(results) do
    series =
      for {name, 1, _r, lat} <- results, name =~ ~r/^(ping|get|put)/, lat != [] do
        {name, lat}
      end

    {w, h, left, bottom} = {760, 380, 60, 40}
    xmin = :math.log10(5)
    xmax = :math.log10(2000)
    x = fn us -> left + (w - left - 20) * (:math.log10(max(us, 5)) - xmin) / (xmax - xmin) end
    y = fn q -> h - bottom - (h - bottom - 20) * q end
    colors = ~w(#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e)

    lines =
      series
      |> Enum.zip(colors)
      |> Enum.with_index()
      |> Enum.map(fn {{{name, lat}, color}, i} ->
        n = length(lat)
        step = max(div(n, 400), 1)

        points =
          lat
          |> Enum.take_every(step)
          |> Enum.with_index()
          |> Enum.map_join(" ", fn {us, j} ->
            "#{Float.round(x.(us), 1)},#{Float.round(y.(min(j * step / n, 1.0)), 1)}"
          end)

        ~s(<polyline fill="none" stroke="#{color}" stroke-width="2" points="#{points}"/>) <>
          ~s(<text x="#{w - 230}" y="#{h - bottom - 90 + 18 * i}" fill="#{color}" font-size="13">#{name}</text>)
      end)

    ticks =
      for us <- [5, 10, 20, 50, 100, 200, 500, 1000, 2000] do
        ~s(<line x1="#{x.(us)}" y1="20" x2="#{x.(us)}" y2="#{h - bottom}" stroke="#ddd"/>) <>
          ~s(<text x="#{x.(us)}" y="#{h - bottom + 16}" font-size="11" text-anchor="middle">#{us}</text>)
      end

    yticks =
      for q <- [0, 0.25, 0.5, 0.75, 0.9, 1.0] do
        ~s(<line x1="#{left}" y1="#{y.(q)}" x2="#{w - 20}" y2="#{y.(q)}" stroke="#eee"/>) <>
          ~s(<text x="#{left - 6}" y="#{y.(q) + 4}" font-size="11" text-anchor="end">#{q}</text>)
      end

    """
    <svg xmlns="http://www.w3.org/2000/svg" width="#{w}" height="#{h}" font-family="sans-serif">
    <rect width="100%" height="100%" fill="white"/>
    <text x="#{left}" y="14" font-size="13">Latency distribution, one caller through Store.KV.Engine (fraction of calls faster than x)</text>
    #{Enum.join(ticks)}#{Enum.join(yticks)}
    <text x="#{div(w, 2)}" y="#{h - 6}" font-size="12" text-anchor="middle">latency, µs (log scale)</text>
    #{Enum.join(lines)}
    </svg>
    """
  end
end
