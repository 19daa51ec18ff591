defmodule Store.KV.Engine.Options do
  @moduledoc false
  # Validates start_link options and maps the RocksDB ones onto the
  # SPIRE_ROCKSDB_* variables of the sidecar's environment.

  @rocksdb [
    profile: {"SPIRE_ROCKSDB_PROFILE", {:one_of, [:"write-heavy", :"read-heavy", :mixed]}},
    block_cache_size: {"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE", {:int, 1_048_576, 1_099_511_627_776}},
    bloom_bits_per_key: {"SPIRE_ROCKSDB_BLOOM_BITS_PER_KEY", {:int, 0, 64}},
    compression: {"SPIRE_ROCKSDB_COMPRESSION", {:one_of, [:none, :snappy, :lz4, :zstd]}},
    write_buffer_size: {"SPIRE_ROCKSDB_WRITE_BUFFER_SIZE", {:int, 65_536, 68_719_476_736}},
    max_write_buffer_number: {"SPIRE_ROCKSDB_MAX_WRITE_BUFFER_NUMBER", {:int, 2, 64}},
    rate_limit_bytes_per_sec:
      {"SPIRE_ROCKSDB_RATE_LIMIT_BYTES_PER_SEC", {:int, 0, 1_099_511_627_776}},
    max_background_jobs: {"SPIRE_ROCKSDB_MAX_BACKGROUND_JOBS", {:int, 1, 256}},
    memtable_bloom_percent: {"SPIRE_ROCKSDB_MEMTABLE_BLOOM_PERCENT", {:int, 0, 25}},
    min_free_disk_bytes: {"SPIRE_ROCKSDB_MIN_FREE_DISK_BYTES", {:int, 0, 1_099_511_627_776}},
    db_write_buffer_size: {"SPIRE_ROCKSDB_DB_WRITE_BUFFER_SIZE", {:int, 0, 1_099_511_627_776}},
    bottommost_compression:
      {"SPIRE_ROCKSDB_BOTTOMMOST_COMPRESSION", {:one_of, [:none, :snappy, :lz4, :zstd]}},
    max_bytes_for_level_base:
      {"SPIRE_ROCKSDB_MAX_BYTES_FOR_LEVEL_BASE", {:int, 1_048_576, 1_099_511_627_776}},
    target_file_size_base:
      {"SPIRE_ROCKSDB_TARGET_FILE_SIZE_BASE", {:int, 65_536, 68_719_476_736}},
    min_write_buffer_number_to_merge:
      {"SPIRE_ROCKSDB_MIN_WRITE_BUFFER_NUMBER_TO_MERGE", {:int, 1, 64}},
    max_open_files: {"SPIRE_ROCKSDB_MAX_OPEN_FILES", {:int, -1, 1_048_576}},
    level_compaction_dynamic_level_bytes:
      {"SPIRE_ROCKSDB_LEVEL_COMPACTION_DYNAMIC_LEVEL_BYTES", :bool},
    max_total_wal_size: {"SPIRE_ROCKSDB_MAX_TOTAL_WAL_SIZE", {:int, 0, 1_099_511_627_776}},
    wal_recovery_mode:
      {"SPIRE_ROCKSDB_WAL_RECOVERY_MODE",
       {:one_of,
        [
          :tolerate_corrupted_tail_records,
          :absolute_consistency,
          :point_in_time_recovery,
          :skip_any_corrupted_records
        ]}},
    recycle_log_file_num: {"SPIRE_ROCKSDB_RECYCLE_LOG_FILE_NUM", {:int, 0, 64}},
    wal_bytes_per_sync: {"SPIRE_ROCKSDB_WAL_BYTES_PER_SYNC", {:int, 0, 1_073_741_824}},
    optimize_filters_for_hits: {"SPIRE_ROCKSDB_OPTIMIZE_FILTERS_FOR_HITS", :bool},
    allow_concurrent_memtable_write: {"SPIRE_ROCKSDB_ALLOW_CONCURRENT_MEMTABLE_WRITE", :bool},
    enable_write_thread_adaptive_yield:
      {"SPIRE_ROCKSDB_ENABLE_WRITE_THREAD_ADAPTIVE_YIELD", :bool},
    block_size: {"SPIRE_ROCKSDB_BLOCK_SIZE", {:int, 1024, 4_194_304}},
    cache_index_and_filter_blocks: {"SPIRE_ROCKSDB_CACHE_INDEX_AND_FILTER_BLOCKS", :bool},
    format_version: {"SPIRE_ROCKSDB_FORMAT_VERSION", {:int, 2, 5}}
  ]

  @general [
    path: nil,
    name: Store.KV.Engine,
    binary: nil,
    timeout: 5_000,
    column_families: [],
    idle_timeout: 300_000,
    max_frame: 67_108_864,
    lock_timeout: 5_000,
    spin: 50,
    data_dir: nil,
    checkpoint_roots: nil,
    read_cache_size: 0
  ]

  @doc "The RocksDB option names."
  @spec rocksdb_keys() :: [atom()]
  def rocksdb_keys, do: Keyword.keys(@rocksdb)

  @doc """
  Validates opts; returns the normalized keyword list or raises
  ArgumentError naming the option, the value and what is accepted.
  """
  @spec validate!(term()) :: keyword()
  def validate!(opts) do
    unless Keyword.keyword?(opts) do
      raise ArgumentError, "Store.KV.Engine options must be a keyword list, got: #{inspect(opts)}"
    end

    opts = Keyword.validate!(opts, @general ++ Enum.map(@rocksdb, fn {k, _} -> {k, nil} end))

    path = opts[:path]

    unless is_binary(path) and path != "" do
      raise ArgumentError,
            "Store.KV.Engine needs a :path (a non-empty string), got: #{inspect(path)}"
    end

    check!(
      :timeout,
      opts[:timeout],
      fn t -> (is_integer(t) and t > 0) or t == :infinity end,
      "a positive integer or :infinity"
    )

    check!(
      :idle_timeout,
      opts[:idle_timeout],
      &(is_integer(&1) and &1 > 0),
      "a positive integer (ms)"
    )

    check!(:max_frame, opts[:max_frame], &(is_integer(&1) and &1 >= 64), "an integer >= 64")

    check!(
      :lock_timeout,
      opts[:lock_timeout],
      &(is_integer(&1) and &1 >= 0),
      "a non-negative integer (ms)"
    )

    check!(
      :spin,
      opts[:spin],
      &(is_integer(&1) and &1 >= 0 and &1 <= 10_000),
      "an integer 0..10000 (µs)"
    )

    check!(:name, opts[:name], &(is_nil(&1) or is_atom(&1)), "an atom or nil")
    check!(:binary, opts[:binary], &(is_nil(&1) or is_binary(&1)), "a path")

    check!(
      :column_families,
      opts[:column_families],
      fn cfs -> is_list(cfs) and Enum.all?(cfs, &(is_binary(&1) and &1 != "")) end,
      "a list of non-empty strings"
    )

    check!(
      :read_cache_size,
      opts[:read_cache_size],
      &(is_integer(&1) and &1 >= 0),
      "a non-negative integer (bytes; 0 = no read cache)"
    )

    check!(:data_dir, opts[:data_dir], &(is_nil(&1) or (is_binary(&1) and &1 != "")), "a path")

    check!(
      :checkpoint_roots,
      opts[:checkpoint_roots],
      fn roots ->
        is_nil(roots) or (is_list(roots) and Enum.all?(roots, &(is_binary(&1) and &1 != "")))
      end,
      "a list of directories"
    )

    for {key, {_env, spec}} <- @rocksdb, value = opts[key], value != nil do
      validate_rocksdb!(key, value, spec)
    end

    opts
  end

  defp validate_rocksdb!(key, value, {:int, lo, hi}) do
    check!(key, value, &(is_integer(&1) and &1 >= lo and &1 <= hi), "an integer #{lo}..#{hi}")
  end

  defp validate_rocksdb!(key, value, :bool),
    do: check!(key, value, &is_boolean/1, "true or false")

  defp validate_rocksdb!(key, value, {:one_of, choices}) do
    ok? = fn v -> to_atom_choice(v, choices) != nil end
    check!(key, value, ok?, "one of #{Enum.map_join(choices, ", ", &inspect/1)}")
  end

  defp to_atom_choice(v, choices) when is_atom(v), do: if(v in choices, do: v)

  defp to_atom_choice(v, choices) when is_binary(v),
    do: Enum.find(choices, &(Atom.to_string(&1) == v))

  defp to_atom_choice(_, _), do: nil

  defp check!(key, value, ok?, accepted) do
    unless ok?.(value) do
      raise ArgumentError,
            "invalid Store.KV.Engine option #{inspect(key)}: #{inspect(value)}; want #{accepted}"
    end
  end

  @doc "The environment of the sidecar: the RocksDB options given, as SPIRE_ROCKSDB_* pairs."
  @spec env(keyword()) :: [{charlist(), charlist()}]
  def env(opts) do
    for {key, {var, _}} <- @rocksdb, value = opts[key], value != nil do
      {String.to_charlist(var), value |> to_string() |> String.to_charlist()}
    end
  end

  @doc "Command-line arguments of the sidecar."
  @spec args(keyword()) :: [String.t()]
  def args(opts) do
    families = Enum.flat_map(opts[:column_families], &["--column-family", &1])
    data_dir = if opts[:data_dir], do: ["--data-dir", opts[:data_dir]], else: []
    roots = Enum.flat_map(opts[:checkpoint_roots] || [], &["--checkpoint-root", &1])

    [
      "--log-frames",
      "--path",
      opts[:path],
      "--max-frame",
      Integer.to_string(opts[:max_frame]),
      "--idle-timeout",
      "#{opts[:idle_timeout]}ms",
      "--spin",
      "#{opts[:spin]}us"
    ] ++ families ++ data_dir ++ roots
  end

  @doc """
  The spire-port executable: the :binary option, else the :binary of the
  :spire_port application environment, else $SPIRE_PORT_BINARY, else the
  one `make build` (or `mix compile`) writes to bin/ at the repository root.
  """
  @spec binary(keyword()) :: String.t()
  def binary(opts) do
    opts[:binary] || Application.get_env(:spire_port, :binary) ||
      System.get_env("SPIRE_PORT_BINARY") || Path.expand("../../../../../bin/spire-port", __DIR__)
  end
end
