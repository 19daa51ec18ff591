defmodule Store.KV.MetricsTest do
  use Store.KV.EngineCase, async: true
  @moduletag :tmp_dir

  # A small parser of the text exposition format: returns
  # %{metric => [{labels, value}]} and %{metric => type}, and fails on any
  # line that is not a comment or a well-formed sample.
  defp parse(text) do
    Enum.reduce(String.split(text, "\n", trim: true), {%{}, %{}}, fn line, {samples, types} ->
      cond do
        String.starts_with?(line, "# TYPE ") ->
          [metric, type] = line |> String.replace_prefix("# TYPE ", "") |> String.split(" ")
          refute Map.has_key?(types, metric), "#{metric} typed twice"
          {samples, Map.put(types, metric, type)}

        String.starts_with?(line, "# HELP ") ->
          {samples, types}

        true ->
          [_, metric, labels, value] =
            Regex.run(~r/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+]+)$/, line) ||
              flunk("not a sample line: #{inspect(line)}")

          labels =
            for [_, k, v] <- Regex.scan(~r/([a-zA-Z_]+)="([^"]*)"/, labels), into: %{}, do: {k, v}

          {value, ""} = Float.parse(value)
          {Map.update(samples, metric, [{labels, value}], &[{labels, value} | &1]), types}
      end
    end)
  end

  test "renders tickers, histograms, properties, cache and sidecar metrics that parse", %{
    tmp_dir: dir
  } do
    e = start_engine(dir, column_families: ["rows"])
    for i <- 1..100, do: :ok = Engine.put(e, "k#{i}", "v")
    :ok = Engine.put(e, "r", "v", cf: "rows")
    :ok = Engine.flush(e)
    for i <- 1..100, do: {:ok, _} = Engine.get(e, "k#{i}")

    assert {:ok, text} = Store.KV.Metrics.prometheus(e)
    {samples, types} = parse(text)

    assert types["rocksdb_block_cache_hit_total"] == "counter"
    assert [{%{}, hits}] = samples["rocksdb_block_cache_hit_total"]
    assert hits > 0

    assert types["rocksdb_db_get_micros"] == "summary"
    quantiles = for {%{"quantile" => q}, _} <- samples["rocksdb_db_get_micros"], do: q
    assert Enum.sort(quantiles) == ["0.5", "0.95", "0.99", "1"]
    assert [{_, count}] = samples["rocksdb_db_get_micros_count"]
    assert count >= 100

    assert types["rocksdb_estimate_num_keys"] == "gauge"
    keys = Map.new(samples["rocksdb_estimate_num_keys"], fn {%{"cf" => cf}, v} -> {cf, v} end)
    assert keys["default"] == 100.0
    assert keys["rows"] == 1.0
    assert {%{"cf" => "default", "level" => "0"}, 1.0} in samples["rocksdb_num_files_at_level"]

    assert [{_, 16_777_216.0}] = samples["spire_block_cache_capacity_bytes"]
    assert [{_, 0.0}] = samples["spire_port_open_iterators"]
    assert types["spire_port_requests_total"] == "counter"
    assert types["spire_port_groups_total"] == "counter"
    assert [{_, grouped}] = samples["spire_port_grouped_requests_total"]
    assert grouped >= 0
  end
end

defmodule Store.KV.MetricsDefaultEngineTest do
  # The engine registered as Store.KV.Engine is global: not async.
  use Store.KV.EngineCase, async: false
  @moduletag :tmp_dir

  test "prometheus_metrics/0 and get_metrics/0 read the default engine", %{tmp_dir: dir} do
    assert "# spire-port: no metrics" <> _ = Store.KV.Metrics.prometheus_metrics()
    assert {:error, :engine_down} = Store.KV.Metrics.get_metrics()
    start_engine(dir, name: Store.KV.Engine)
    :ok = Engine.put(Store.KV.Engine, "k", "v")
    assert Store.KV.Metrics.prometheus_metrics() =~ ~r/^rocksdb_number_keys_written_total 1$/m

    assert {:ok, %{tickers: %{"rocksdb.number.keys.written" => 1}, cache: %{capacity: _}}} =
             Store.KV.Metrics.get_metrics()
  end
end
