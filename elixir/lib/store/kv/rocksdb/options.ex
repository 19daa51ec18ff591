defmodule Store.KV.RocksDB.Options do
  @moduledoc false
  # Maps erlang-rocksdb's open options onto Store.KV.Engine's. What the
  # sidecar does not apply is returned by name, for one log line at open;
  # nothing here raises on an option it does not know, as the NIF skips
  # what it does not know.

  alias Store.KV.Engine.Options, as: EngineOptions
  alias Store.KV.RocksDB.{Args, Registry}

  # erlang-rocksdb name => Store.KV.Engine option of the same meaning.
  @direct ~w(ttl write_buffer_size max_write_buffer_number min_write_buffer_number_to_merge
             max_open_files max_background_jobs level_compaction_dynamic_level_bytes
             max_bytes_for_level_base target_file_size_base max_total_wal_size wal_recovery_mode
             recycle_log_file_num wal_bytes_per_sync optimize_filters_for_hits
             allow_concurrent_memtable_write enable_write_thread_adaptive_yield
             db_write_buffer_size)a

  # Accepted with nothing to do: the sidecar always behaves so.
  # (block_cache_size_mb_for_point_lookup: the NIF ignores it too;
  # error_if_exists: checked by the open itself.)
  @implied ~w(create_missing_column_families statistics total_threads
              block_cache_size_mb_for_point_lookup error_if_exists)a

  @compressions %{none: :none, snappy: :snappy, lz4: :lz4, lz4h: :lz4, zstd: :zstd}

  # erlang-rocksdb's options that no engine setting names, by the name
  # RocksDB's option-string parser knows them and the kind of their value:
  # they reach RocksDB as the engine's option_string, applied last.
  @passthrough %{
    paranoid_checks: {"paranoid_checks", :bool},
    use_fsync: {"use_fsync", :bool},
    db_log_dir: {"db_log_dir", :path},
    wal_dir: {"wal_dir", :path},
    delete_obsolete_files_period_micros: {"delete_obsolete_files_period_micros", :uint},
    max_background_compactions: {"max_background_compactions", :uint},
    max_background_flushes: {"max_background_flushes", :uint},
    max_log_file_size: {"max_log_file_size", :uint},
    log_file_time_to_roll: {"log_file_time_to_roll", :uint},
    keep_log_file_num: {"keep_log_file_num", :uint},
    max_manifest_file_size: {"max_manifest_file_size", :uint},
    table_cache_numshardbits: {"table_cache_numshardbits", :uint},
    wal_ttl_seconds: {"WAL_ttl_seconds", :uint},
    wal_size_limit_mb: {"WAL_size_limit_MB", :uint},
    manual_wal_flush: {"manual_wal_flush", :bool},
    manifest_preallocation_size: {"manifest_preallocation_size", :uint},
    allow_mmap_reads: {"allow_mmap_reads", :bool},
    allow_mmap_writes: {"allow_mmap_writes", :bool},
    is_fd_close_on_exec: {"is_fd_close_on_exec", :bool},
    advise_random_on_open: {"advise_random_on_open", :bool},
    compaction_readahead_size: {"compaction_readahead_size", :uint},
    use_adaptive_mutex: {"use_adaptive_mutex", :bool},
    bytes_per_sync: {"bytes_per_sync", :uint},
    skip_stats_update_on_db_open: {"skip_stats_update_on_db_open", :bool},
    max_subcompactions: {"max_subcompactions", :uint},
    atomic_flush: {"atomic_flush", :bool},
    two_write_queues: {"two_write_queues", :bool},
    allow_fallocate: {"allow_fallocate", :bool},
    use_direct_reads: {"use_direct_reads", :bool},
    use_direct_io_for_flush_and_compaction: {"use_direct_io_for_flush_and_compaction", :bool},
    enable_pipelined_write: {"enable_pipelined_write", :bool},
    unordered_write: {"unordered_write", :bool},
    max_file_opening_threads: {"max_file_opening_threads", :uint},
    stats_dump_period_sec: {"stats_dump_period_sec", :uint},
    level0_file_num_compaction_trigger: {"level0_file_num_compaction_trigger", :uint},
    level0_slowdown_writes_trigger: {"level0_slowdown_writes_trigger", :uint},
    level0_stop_writes_trigger: {"level0_stop_writes_trigger", :uint},
    max_bytes_for_level_multiplier: {"max_bytes_for_level_multiplier", :uint},
    disable_auto_compactions: {"disable_auto_compactions", :bool},
    report_bg_io_stats: {"report_bg_io_stats", :bool},
    num_levels: {"num_levels", :uint},
    enable_blob_files: {"enable_blob_files", :bool},
    min_blob_size: {"min_blob_size", :uint},
    blob_file_size: {"blob_file_size", :uint},
    blob_compression_type: {"blob_compression_type", :compression},
    enable_blob_garbage_collection: {"enable_blob_garbage_collection", :bool},
    blob_garbage_collection_age_cutoff: {"blob_garbage_collection_age_cutoff", :fraction},
    blob_garbage_collection_force_threshold:
      {"blob_garbage_collection_force_threshold", :fraction},
    blob_compaction_readahead_size: {"blob_compaction_readahead_size", :uint},
    blob_file_starting_level: {"blob_file_starting_level", :uint},
    prepopulate_blob_cache: {"prepopulate_blob_cache", :prepopulate},
    arena_block_size: {"arena_block_size", :uint},
    max_compaction_bytes: {"max_compaction_bytes", :uint},
    max_sequential_skip_in_iterations: {"max_sequential_skip_in_iterations", :uint},
    inplace_update_support: {"inplace_update_support", :bool},
    inplace_update_num_locks: {"inplace_update_num_locks", :uint},
    target_file_size_multiplier: {"target_file_size_multiplier", :uint},
    compaction_pri: {"compaction_pri", :compaction_pri}
  }

  @compaction_pris %{
    compensated_size: "kByCompensatedSize",
    oldest_largest_seq_first: "kOldestLargestSeqFirst",
    oldest_smallest_seq_first: "kOldestSmallestSeqFirst"
  }

  # The option string's names of the NIF's compression types (those
  # Debian's RocksDB is built with).
  @compression_names %{
    none: "kNoCompression",
    snappy: "kSnappyCompression",
    lz4: "kLZ4Compression",
    lz4h: "kLZ4HCCompression",
    zstd: "kZSTD"
  }

  @doc "The options passed through to RocksDB's own parser: `%{nif_name => {rocksdb_name, kind}}`."
  @spec passthrough() :: %{atom() => {String.t(), atom()}}
  def passthrough, do: @passthrough

  @doc """
  Returns `{engine_opts, create_if_missing, not_applied}` for erlang-rocksdb
  options (a proplist; a bare atom is `{atom, true}`).
  """
  @spec map(list()) :: {keyword(), boolean(), [atom()]}
  def map(opts) when is_list(opts) do
    pairs =
      Enum.map(opts, fn
        {k, v} -> {k, v}
        k when is_atom(k) -> {k, true}
        other -> {other, nil}
      end)

    {engine, create, skipped} =
      Enum.reduce(pairs, {[], false, []}, fn {k, v}, {engine, create, skipped} ->
        case option(k, v) do
          {:create_if_missing, c} -> {engine, c, skipped}
          :implied -> {engine, create, skipped}
          :skip -> {engine, create, [k | skipped]}
          kv when is_list(kv) -> {kv ++ engine, create, skipped}
        end
      end)

    {strings, engine} = Enum.split_with(engine, &match?({:rocksdb_option, _}, &1))

    engine =
      engine
      |> background_jobs(pairs)
      |> bottommost_as_the_nif(pairs)
      |> with_option_string(for({:rocksdb_option, o} <- strings, do: o))

    {valid, invalid} = Enum.split_with(engine, &valid?/1)
    {Enum.reverse(valid), create, Enum.reverse(skipped) ++ Keyword.keys(invalid)}
  end

  defp option(:create_if_missing, v), do: {:create_if_missing, v == true}
  defp option(k, _v) when k in @implied, do: :implied
  defp option(:comparator, :bytewise_comparator), do: :implied
  defp option(k, v) when k in @direct, do: [{k, v}]

  defp option(k, v) when k in [:compression, :bottommost_compression] do
    case Map.fetch(@compressions, v) do
      {:ok, c} -> [{k, c}]
      :error -> :skip
    end
  end

  defp option(k, v) when is_map_key(@passthrough, k) do
    {name, kind} = Map.fetch!(@passthrough, k)

    case passthrough_value(kind, v) do
      {:ok, text} -> [{:rocksdb_option, name <> "=" <> text}]
      :error -> :skip
    end
  end

  defp option(:prefix_extractor, {kind, n})
       when kind in [:fixed_prefix_transform, :capped_prefix_transform] and is_integer(n) and
              n in 1..0xFFFF do
    name = if kind == :fixed_prefix_transform, do: "FixedPrefix", else: "CappedPrefix"
    [{:rocksdb_option, "prefix_extractor=rocksdb.#{name}.#{n}"}]
  end

  # A manager's databases are sidecars of their own: each gets the
  # manager's buffer size as its db_write_buffer_size.
  defp option(:write_buffer_manager, ref) when is_reference(ref) do
    case :ets.lookup(Registry.objects(), ref) do
      [{_, :write_buffer_manager, %{size: size}}] when size > 0 -> [db_write_buffer_size: size]
      [{_, :write_buffer_manager, _}] -> []
      _ -> :skip
    end
  end

  # Reported through sst_file_manager_info/1; its delete rate and space
  # limit are not enforced by the sidecar (logged when set).
  defp option(:sst_file_manager, ref) when is_reference(ref) do
    case :ets.lookup(Registry.objects(), ref) do
      [{_, :sst_file_manager, %{delete_rate_bytes_per_sec: 0, max_allowed_space_usage: 0}}] -> []
      _ -> :skip
    end
  end

  defp option(:env, :memenv), do: [in_memory: true]
  defp option(:env, :default), do: []

  defp option(:env, ref) when is_reference(ref) do
    case :ets.lookup(Registry.objects(), ref) do
      [{_, :env, %{mem: mem}}] -> if mem, do: [in_memory: true], else: []
      _ -> :skip
    end
  end

  # open_optimistic_transaction_db/2,3 (not an option of the NIF's open/2).
  defp option(:spire_optimistic, true), do: [optimistic_transactions: true]

  # open_with_ttl/4's TTL (not an option of the NIF's open/2).
  defp option(:spire_value_ttl, ttl) when is_integer(ttl), do: [value_ttl: min(ttl, 0x7FFFFFFF)]

  defp option(:compaction_style, style) when style in [:level, :universal, :fifo],
    do: [compaction_style: Atom.to_string(style)]

  defp option(:compaction_options_fifo, fifo) when is_list(fifo) do
    Enum.flat_map(fifo, fn
      {:max_table_files_size, n} -> [fifo_max_table_files_size: n]
      {:allow_compaction, b} -> [fifo_allow_compaction: b]
      _ -> []
    end)
  end

  defp option(k, opts)
       when k in [:compression_opts, :bottommost_compression_opts] and is_list(opts) do
    prefix =
      if k == :bottommost_compression_opts, do: "bottommost_compression_", else: "compression_"

    Enum.flat_map(opts, fn
      {:enabled, b} when k == :bottommost_compression_opts ->
        [bottommost_compression_enabled: b]

      {o, n} when o in [:window_bits, :level, :strategy, :max_dict_bytes] ->
        [{setting(prefix, o), n}]

      _ ->
        []
    end)
  end

  defp option(:merge_operator, :erlang_merge_operator), do: [merge_operator: "erlang"]
  defp option(:merge_operator, :counter_merge_operator), do: [merge_operator: "counter"]

  defp option(:merge_operator, {:bitset_merge_operator, bits}),
    do: [merge_operator: "bitset", merge_bitset_bits: bits]

  defp option(:rate_limiter, ref) do
    case :ets.lookup(Registry.objects(), ref) do
      [{_, :rate_limiter, %{rate: rate}}] -> [rate_limit_bytes_per_sec: rate]
      _ -> :skip
    end
  end

  defp option(:block_based_table_options, table) when is_list(table) do
    Enum.flat_map(table, fn
      {:block_cache, ref} ->
        case :ets.lookup(Registry.objects(), ref) do
          [{_, :cache, %{capacity: cap}}] -> [block_cache_size: cap]
          _ -> []
        end

      {:block_cache_size, n} ->
        [block_cache_size: n]

      {:bloom_filter_policy, bits} ->
        [bloom_bits_per_key: bits]

      {k, v} when k in [:block_size, :cache_index_and_filter_blocks, :format_version] ->
        [{k, v}]

      _ ->
        []
    end)
  end

  # Counted into max_background_jobs below.
  defp option(k, _v) when k in [:max_background_compactions, :max_background_flushes], do: []
  defp option(_k, _v), do: :skip

  # RocksDB folds the two old limits into max_background_jobs; so does this
  # when max_background_jobs itself is not given.
  defp background_jobs(engine, pairs) do
    if Keyword.has_key?(engine, :max_background_jobs) do
      engine
    else
      n =
        Enum.sum(
          for {k, v} <- pairs,
              k in [:max_background_compactions, :max_background_flushes],
              is_integer(v) and v > 0,
              do: v
        )

      if n > 0, do: [{:max_background_jobs, n} | engine], else: engine
    end
  end

  defp passthrough_value(:bool, v) when is_boolean(v), do: {:ok, Atom.to_string(v)}

  defp passthrough_value(:compression, v) when is_map_key(@compression_names, v),
    do: {:ok, Map.fetch!(@compression_names, v)}

  defp passthrough_value(:fraction, v) when is_number(v) and v >= 0 and v <= 1,
    do: {:ok, :erlang.float_to_binary(v * 1.0, [:short])}

  defp passthrough_value(:compaction_pri, v) when is_map_key(@compaction_pris, v),
    do: {:ok, Map.fetch!(@compaction_pris, v)}

  defp passthrough_value(:prepopulate, :disable), do: {:ok, "kDisable"}
  defp passthrough_value(:prepopulate, :flush_only), do: {:ok, "kFlushOnly"}

  defp passthrough_value(:uint, v) when is_integer(v) and v >= 0 and v < 0x8000000000000000,
    do: {:ok, Integer.to_string(v)}

  # A path goes in absolute (the NIF's relative paths resolve against the
  # BEAM's directory, which the sidecar shares) and without the option
  # string's separators.
  defp passthrough_value(:path, v) do
    path = Path.expand(Args.path!(v))
    if String.contains?(path, [";", "{", "}", "="]), do: :error, else: {:ok, path}
  rescue
    ArgumentError -> :error
  end

  defp passthrough_value(_kind, _v), do: :error

  defp with_option_string(engine, []), do: engine

  defp with_option_string(engine, options),
    do: [{:option_string, Enum.join(options, ";")} | engine]

  # The engine's names of the CompressionOptions settings.
  @compression_opts %{
    {"compression_", :window_bits} => :compression_window_bits,
    {"compression_", :level} => :compression_level,
    {"compression_", :strategy} => :compression_strategy,
    {"compression_", :max_dict_bytes} => :compression_max_dict_bytes,
    {"bottommost_compression_", :window_bits} => :bottommost_compression_window_bits,
    {"bottommost_compression_", :level} => :bottommost_compression_level,
    {"bottommost_compression_", :strategy} => :bottommost_compression_strategy,
    {"bottommost_compression_", :max_dict_bytes} => :bottommost_compression_max_dict_bytes
  }

  defp setting(prefix, opt), do: Map.fetch!(@compression_opts, {prefix, opt})

  # The NIF leaves the last level's compression to `compression` unless
  # bottommost_compression is given; the engine's own default differs.
  defp bottommost_as_the_nif(engine, pairs) do
    if List.keymember?(pairs, :bottommost_compression, 0),
      do: engine,
      else: [{:bottommost_compression, :disabled} | engine]
  end

  # A value the engine would refuse is skipped (and named), never raised.
  defp valid?({k, v}) do
    EngineOptions.validate!([{:path, "/"}, {k, v}])
    true
  rescue
    ArgumentError -> false
  end
end
