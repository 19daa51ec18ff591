defmodule Store.KV.RocksDB.Objects do
  @moduledoc false
  # Caches, rate limiters and statistics: handles on what an open may name.

  use Store.KV.RocksDB.Handles

  @stats_levels ~w(stats_disable_all stats_except_histogram_or_timers stats_except_timers
                   stats_except_detailed_timers stats_except_time_for_mutex stats_all)a

  @doc "A block cache of `capacity` bytes, to pass as `block_based_table_options: [block_cache: c]`."
  @spec new_cache(:lru | :clock, non_neg_integer()) :: {:ok, R.object_handle()}
  def new_cache(type, capacity)
      when type in [:lru, :clock] and is_integer(capacity) and capacity >= 0,
      do: new_object(:cache, %{capacity: capacity, strict: false})

  @doc "An LRU block cache of `capacity` bytes."
  @spec new_lru_cache(non_neg_integer()) :: {:ok, R.object_handle()}
  def new_lru_cache(capacity), do: new_cache(:lru, capacity)

  @doc "A clock block cache of `capacity` bytes (an LRU one in the sidecar: RocksDB 7.8's C API has no other)."
  @spec new_clock_cache(non_neg_integer()) :: {:ok, R.object_handle()}
  def new_clock_cache(capacity), do: new_cache(:clock, capacity)

  @doc "Records whether the cache refuses inserts beyond its capacity."
  @spec set_strict_capacity_limit(R.object_handle(), boolean()) :: :ok
  def set_strict_capacity_limit(cache, strict) when is_boolean(strict),
    do: update_object(cache, :cache, &%{&1 | strict: strict})

  @doc "Sets the cache's capacity."
  @spec set_capacity(R.object_handle(), non_neg_integer()) :: :ok
  def set_capacity(cache, capacity) when is_integer(capacity) and capacity >= 0,
    do: update_object(cache, :cache, &%{&1 | capacity: capacity})

  @doc "`cache_info(cache, :capacity)`."
  @spec get_capacity(R.object_handle()) :: non_neg_integer()
  def get_capacity(cache), do: cache_info(cache, :capacity)

  @doc "`cache_info(cache, :usage)`."
  @spec get_usage(R.object_handle()) :: non_neg_integer()
  def get_usage(cache), do: cache_info(cache, :usage)

  @doc "`cache_info(cache, :pinned_usage)`."
  @spec get_pinned_usage(R.object_handle()) :: non_neg_integer()
  def get_pinned_usage(cache), do: cache_info(cache, :pinned_usage)

  @doc "Forgets a cache handle (the engine that uses it keeps its cache)."
  @spec release_cache(R.object_handle()) :: :ok
  def release_cache(cache), do: release_object(cache)

  @doc """
  `[capacity:, strict_capacity:, usage:, pinned_usage:]`: usage from the
  engines opened with this cache.
  """
  @spec cache_info(R.object_handle()) :: [{atom(), term()}]
  def cache_info(cache) do
    %{capacity: cap, strict: strict} = object!(cache, :cache)

    {usage, pinned} =
      for [{name, _, _}] <- :ets.match(Registry.dbs(), :"$1"),
          used_cache?(name, cap),
          {:ok, info} <- [Engine.get_cache_info(name)],
          reduce: {0, 0} do
        {u, p} -> {u + info.usage, p + info.pinned_usage}
      end

    [capacity: cap, strict_capacity: strict, usage: usage, pinned_usage: pinned]
  end

  defp used_cache?(name, cap) do
    match?({:ok, %{capacity: ^cap}}, alive?(name) && Engine.get_cache_info(name))
  end

  @doc "One item of `cache_info/1`."
  @spec cache_info(R.object_handle(), atom()) :: term()
  def cache_info(cache, item), do: Keyword.fetch!(cache_info(cache), item)

  @doc """
  An env for the `env` open option: `:default` (the disk) or `:memenv`
  (RocksDB's in-memory env: each database opened with it lives in memory
  only, in its own sidecar, and is gone when closed).
  """
  @spec new_env() :: {:ok, R.object_handle()}
  def new_env, do: new_env(:default)

  @doc "As `new_env/0`, of the given kind."
  @spec new_env(:default | :memenv) :: {:ok, R.object_handle()}
  def new_env(kind) when kind in [:default, :memenv],
    do: new_object(:env, %{mem: kind == :memenv, threads: %{}, users: []})

  @doc "The default (disk) env."
  @spec default_env() :: {:ok, R.object_handle()}
  def default_env, do: new_env(:default)

  @doc "An in-memory env (see `new_env/1`)."
  @spec mem_env() :: {:ok, R.object_handle()}
  def mem_env, do: new_env(:memenv)

  @doc "Forgets an env handle."
  @spec destroy_env(R.object_handle()) :: :ok
  def destroy_env(env), do: release_object(env, :env)

  @doc """
  Sizes the env's pool of compaction threads, in the sidecar of every
  database opened with it, now and at each later open.
  """
  @spec set_env_background_threads(R.object_handle(), non_neg_integer()) :: :ok
  def set_env_background_threads(env, n), do: set_env_background_threads(env, n, :priority_low)

  @doc "As `set_env_background_threads/2`, for one pool: `:priority_low` (compactions) or `:priority_high` (flushes)."
  @spec set_env_background_threads(R.object_handle(), non_neg_integer(), atom()) :: :ok
  def set_env_background_threads(env, n, pri) do
    threads!(n, pri)
    update_object(env, :env, &put_in(&1, [:threads, pri], n))
    for name <- object!(env, :env).users, alive?(name), do: set_threads(name, n, pri)
    :ok
  end

  ## Managers. Each database is a sidecar of its own, so a manager handle
  ## shapes each database opened with it (its buffer size, its limits) and
  ## reports the sum of what those databases hold.

  @doc "A write buffer manager of `size` bytes, for the `write_buffer_manager` open option."
  @spec new_write_buffer_manager(non_neg_integer()) :: {:ok, R.object_handle()}
  def new_write_buffer_manager(size) when is_integer(size) and size >= 0,
    do: new_object(:write_buffer_manager, %{size: size, users: []})

  @doc "As `new_write_buffer_manager/1`, charging the memtables to `cache`."
  @spec new_write_buffer_manager(non_neg_integer(), R.object_handle()) :: {:ok, R.object_handle()}
  def new_write_buffer_manager(size, cache) when is_integer(size) and size >= 0 do
    object!(cache, :cache)
    new_object(:write_buffer_manager, %{size: size, users: []})
  end

  @doc "Forgets a write buffer manager handle."
  @spec release_write_buffer_manager(R.object_handle()) :: :ok
  def release_write_buffer_manager(mgr), do: release_object(mgr, :write_buffer_manager)

  @doc "`[memory_usage:, mutable_memtable_memory_usage:, buffer_size:, enabled:]`."
  @spec write_buffer_manager_info(R.object_handle()) :: [{atom(), term()}]
  def write_buffer_manager_info(mgr) do
    %{size: size, users: users} = object!(mgr, :write_buffer_manager)

    [
      memory_usage: sum_property(users, "rocksdb.cur-size-all-mem-tables"),
      mutable_memtable_memory_usage: sum_property(users, "rocksdb.cur-size-active-mem-table"),
      buffer_size: size,
      enabled: size > 0
    ]
  end

  @doc "One item of `write_buffer_manager_info/1`."
  @spec write_buffer_manager_info(R.object_handle(), atom()) :: term()
  def write_buffer_manager_info(mgr, item) when is_atom(item),
    do: Keyword.fetch!(write_buffer_manager_info(mgr), item)

  @sst_defaults %{
    delete_rate_bytes_per_sec: 0,
    max_trash_db_ratio: 0.25,
    max_allowed_space_usage: 0,
    compaction_buffer_size: 0
  }

  @doc "An SST file manager for the `sst_file_manager` open option."
  @spec new_sst_file_manager(R.object_handle()) :: {:ok, R.object_handle()}
  def new_sst_file_manager(env), do: new_sst_file_manager(env, [])

  @doc "As `new_sst_file_manager/1`, with `delete_rate_bytes_per_sec` and `max_trash_db_ratio`."
  @spec new_sst_file_manager(R.object_handle(), list()) :: {:ok, R.object_handle()}
  def new_sst_file_manager(env, opts) do
    object!(env, :env)

    data =
      Enum.reduce(Args.opts!(opts), @sst_defaults, fn
        {k, v}, acc when k in [:delete_rate_bytes_per_sec, :max_trash_db_ratio] ->
          put_flag(acc, k, v)

        _, acc ->
          acc
      end)

    new_object(:sst_file_manager, Map.put(data, :users, []))
  end

  @doc "Sets `max_allowed_space_usage`, `compaction_buffer_size`, `delete_rate_bytes_per_sec` or `max_trash_db_ratio`."
  @spec sst_file_manager_flag(R.object_handle(), atom(), number()) :: :ok
  def sst_file_manager_flag(mgr, flag, value) when is_map_key(@sst_defaults, flag),
    do: update_object(mgr, :sst_file_manager, &put_flag(&1, flag, value))

  defp put_flag(data, :max_trash_db_ratio, v) when is_number(v) and v >= 0,
    do: %{data | max_trash_db_ratio: v}

  defp put_flag(data, k, v) when is_integer(v) and v >= 0 and k != :max_trash_db_ratio,
    do: %{data | k => v}

  defp put_flag(_data, _k, _v), do: :erlang.error(:badarg)

  @doc """
  `[total_size:, delete_rate_bytes_per_sec:, max_trash_db_ratio:,
  total_trash_size:, is_max_allowed_space_reached:,
  max_allowed_space_reached_including_compactions:]`: sizes from the
  databases opened with this manager.
  """
  @spec sst_file_manager_info(R.object_handle()) :: [{atom(), term()}]
  def sst_file_manager_info(mgr) do
    d = object!(mgr, :sst_file_manager)
    total = sum_property(d.users, "rocksdb.live-sst-files-size")
    max = d.max_allowed_space_usage

    [
      total_size: total,
      delete_rate_bytes_per_sec: d.delete_rate_bytes_per_sec,
      max_trash_db_ratio: d.max_trash_db_ratio,
      total_trash_size: 0,
      is_max_allowed_space_reached: max > 0 and total >= max,
      max_allowed_space_reached_including_compactions:
        max > 0 and total + d.compaction_buffer_size >= max
    ]
  end

  @doc "One item of `sst_file_manager_info/1`."
  @spec sst_file_manager_info(R.object_handle(), atom()) :: term()
  def sst_file_manager_info(mgr, item) when is_atom(item),
    do: Keyword.fetch!(sst_file_manager_info(mgr), item)

  @doc "Forgets an SST file manager handle."
  @spec release_sst_file_manager(R.object_handle()) :: :ok
  def release_sst_file_manager(mgr), do: release_object(mgr, :sst_file_manager)

  @doc false
  @spec note_users(atom(), list()) :: :ok
  def note_users(name, opts) do
    for {k, ref} when k in [:write_buffer_manager, :sst_file_manager, :env] <- opts,
        is_reference(ref),
        [{_, kind, _}] <- [:ets.lookup(Registry.objects(), ref)],
        kind == k,
        do: update_object(ref, kind, &%{&1 | users: Enum.uniq([name | &1.users])})

    # The env's pools, as set before this open.
    for {:env, ref} when is_reference(ref) <- opts,
        [{_, :env, %{threads: threads}}] <- [:ets.lookup(Registry.objects(), ref)],
        {pri, n} <- threads,
        do: set_threads(name, n, pri)

    :ok
  end

  defp sum_property(names, property) do
    for name <- names, alive?(name), reduce: 0 do
      acc ->
        case Engine.get_property(name, property) do
          {:ok, v} -> acc + String.to_integer(v)
          _ -> acc
        end
    end
  end

  @doc "A rate limiter for flush and compaction I/O, for the `rate_limiter` open option."
  @spec new_rate_limiter(non_neg_integer(), boolean()) :: {:ok, R.object_handle()}
  def new_rate_limiter(rate, _auto) when is_integer(rate) and rate >= 0,
    do: new_object(:rate_limiter, %{rate: rate})

  @doc "Forgets a rate limiter handle."
  @spec release_rate_limiter(R.object_handle()) :: :ok
  def release_rate_limiter(limiter), do: release_object(limiter)

  @doc "A statistics handle: the sidecar always keeps RocksDB's statistics."
  @spec new_statistics() :: {:ok, R.object_handle()}
  def new_statistics, do: new_object(:statistics, %{level: :stats_except_detailed_timers})

  @doc "Records the statistics level (the sidecar keeps its own)."
  @spec set_stats_level(R.object_handle(), atom()) :: :ok
  def set_stats_level(stats, level) when is_atom(level) do
    # RocksDB's kExceptTickers is kDisableAll: it reads back as that.
    level =
      case level do
        :stats_except_tickers -> :stats_disable_all
        l when l in @stats_levels -> l
      end

    update_object(stats, :statistics, &%{&1 | level: level})
  end

  @doc "`[stats_level: level]`."
  @spec statistics_info(R.object_handle()) :: [{:stats_level, atom()}]
  def statistics_info(stats), do: [stats_level: object!(stats, :statistics).level]

  @doc "Forgets a statistics handle."
  @spec release_statistics(R.object_handle()) :: :ok
  def release_statistics(stats), do: release_object(stats)

  defp update_object(ref, kind, fun) do
    :ets.insert(Registry.objects(), {ref, kind, fun.(object!(ref, kind))})
    :ok
  end

  defp new_object(kind, data) do
    ref = make_ref()
    :ets.insert(Registry.objects(), {ref, kind, data})
    {:ok, ref}
  end

  defp object!(ref, kind) do
    case :ets.lookup(Registry.objects(), ref) do
      [{^ref, ^kind, data}] -> data
      _ -> :erlang.error(:badarg)
    end
  end

  defp release_object(ref) when is_reference(ref) do
    :ets.delete(Registry.objects(), ref)
    :ok
  end

  defp release_object(_), do: :erlang.error(:badarg)

  # A handle that must be of `kind`: another kind, or one released, is badarg.
  defp release_object(ref, kind) do
    object!(ref, kind)
    release_object(ref)
  end
end
