defmodule Store.KV.Metrics do
  @moduledoc """
  Renders an engine's statistics in the Prometheus text exposition format
  (version 0.0.4), for a `/metrics` endpoint:

    * every RocksDB ticker as a counter: `rocksdb_block_cache_hit_total`;
    * every RocksDB histogram as a summary with quantiles 0.5, 0.95, 0.99
      and 1 (the max), `_sum` and `_count`: `rocksdb_db_get_micros`;
    * DB properties as gauges labelled by column family:
      `rocksdb_estimate_num_keys{cf="default"}`,
      `rocksdb_num_files_at_level{cf="default",level="0"}`, ...;
    * the block cache: `spire_block_cache_capacity_bytes`,
      `spire_block_cache_usage_bytes`, `spire_block_cache_pinned_usage_bytes`;
    * the sidecar: `spire_port_open_iterators`, `spire_port_open_snapshots`,
      `spire_port_requests_total`, `spire_port_bad_frames_total`,
      `spire_port_groups_total`, `spire_port_grouped_requests_total`.

      {:ok, text} = Store.KV.Metrics.prometheus(Store.KV.Engine)
  """

  alias Store.KV.Engine

  @doc "The engine's metrics as Prometheus text."
  @spec prometheus(Engine.engine()) :: {:ok, String.t()} | {:error, Engine.reason()}
  def prometheus(engine) do
    with {:ok, stats} <- Engine.get_stats(engine),
         {:ok, cache} <- Engine.get_cache_info(engine) do
      {:ok, IO.iodata_to_binary(render(stats, cache))}
    end
  end

  @doc """
  Prometheus text for the engine registered as `Store.KV.Engine`, as
  SpireDB's `/metrics` endpoint calls it; a comment line when none runs.
  """
  @spec prometheus_metrics() :: String.t()
  def prometheus_metrics do
    case prometheus(Store.KV.Engine) do
      {:ok, text} -> text
      {:error, reason} -> "# spire-port: no metrics: #{inspect(reason)}\n"
    end
  end

  @doc """
  The statistics of the engine registered as `Store.KV.Engine`:
  `Store.KV.Engine.get_stats/1`'s map with its block cache under `:cache`.
  """
  @spec get_metrics() :: {:ok, map()} | {:error, Engine.reason()}
  def get_metrics do
    with {:ok, stats} <- Engine.get_stats(Store.KV.Engine),
         {:ok, cache} <- Engine.get_cache_info(Store.KV.Engine) do
      {:ok, Map.put(stats, :cache, cache)}
    end
  end

  @doc false
  @spec render(map(), map()) :: iodata()
  def render(stats, cache) do
    [
      for {name, n} <- Enum.sort(stats.tickers) do
        metric = sanitize(name) <> "_total"
        [type(metric, "counter", "RocksDB ticker #{name}"), sample(metric, [], n)]
      end,
      for {name, h} <- Enum.sort(stats.histograms) do
        metric = sanitize(name)

        [
          type(metric, "summary", "RocksDB histogram #{name}"),
          for(
            {q, key} <- [{"0.5", :p50}, {"0.95", :p95}, {"0.99", :p99}, {"1", :max}],
            do: sample(metric, [quantile: q], Map.fetch!(h, key))
          ),
          sample(metric <> "_sum", [], h.sum),
          sample(metric <> "_count", [], h.count)
        ]
      end,
      properties(stats.column_families),
      gauge("spire_block_cache_capacity_bytes", "Block cache capacity", cache.capacity),
      gauge("spire_block_cache_usage_bytes", "Block cache usage", cache.usage),
      gauge(
        "spire_block_cache_pinned_usage_bytes",
        "Block cache pinned usage",
        cache.pinned_usage
      ),
      gauge(
        "spire_port_open_iterators",
        "Cursors open in the sidecar",
        stats.sidecar.open_iterators
      ),
      gauge(
        "spire_port_open_snapshots",
        "Snapshots open in the sidecar",
        stats.sidecar.open_snapshots
      ),
      [
        type("spire_port_requests_total", "counter", "Requests the sidecar received"),
        sample("spire_port_requests_total", [], stats.sidecar.requests),
        type("spire_port_bad_frames_total", "counter", "Malformed frames the sidecar refused"),
        sample("spire_port_bad_frames_total", [], stats.sidecar.bad_frames),
        type(
          "spire_port_groups_total",
          "counter",
          "Runs of 2+ point requests served by one RocksDB call"
        ),
        sample("spire_port_groups_total", [], stats.sidecar.groups),
        type("spire_port_grouped_requests_total", "counter", "Requests served in those runs"),
        sample("spire_port_grouped_requests_total", [], stats.sidecar.grouped)
      ]
    ]
  end

  # Properties become one gauge family each, with a cf label (and a level
  # label for the per-level file counts).
  defp properties(families) do
    families
    |> Enum.flat_map(fn {cf, props} ->
      for {name, value} <- props do
        case Regex.run(~r/^rocksdb\.num-files-at-level(\d+)$/, name) do
          [_, level] -> {"rocksdb_num_files_at_level", [cf: cf, level: level], value}
          nil -> {sanitize(name), [cf: cf], value}
        end
      end
    end)
    |> Enum.group_by(&elem(&1, 0))
    |> Enum.sort()
    |> Enum.map(fn {metric, samples} ->
      [
        type(metric, "gauge", "RocksDB property"),
        for({_, labels, value} <- Enum.sort(samples), do: sample(metric, labels, value))
      ]
    end)
  end

  defp gauge(metric, help, value), do: [type(metric, "gauge", help), sample(metric, [], value)]

  defp type(metric, kind, help),
    do: ["# HELP ", metric, " ", help, "\n# TYPE ", metric, " ", kind, "\n"]

  defp sample(metric, [], value), do: [metric, " ", number(value), "\n"]

  defp sample(metric, labels, value) do
    pairs = Enum.map_join(labels, ",", fn {k, v} -> ~s(#{k}="#{escape(v)}") end)
    [metric, "{", pairs, "} ", number(value), "\n"]
  end

  defp number(n) when is_integer(n), do: Integer.to_string(n)
  defp number(f) when is_float(f), do: Float.to_string(f)

  defp escape(v),
    do:
      v
      |> to_string()
      |> String.replace("\\", "\\\\")
      |> String.replace("\"", "\\\"")
      |> String.replace("\n", "\\n")

  defp sanitize(name), do: String.replace(name, ~r/[^a-zA-Z0-9_]/, "_")
end
