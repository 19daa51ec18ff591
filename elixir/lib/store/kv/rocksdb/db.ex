defmodule Store.KV.RocksDB.DB do
  @moduledoc false
  # The database and its options: open (read-write or read-only), close, destroy and
  # repair, flush, compaction, properties, sequence numbers.

  use Store.KV.RocksDB.Handles
  require Logger
  alias Store.KV.Engine.Tool
  alias Store.KV.RocksDB.{Iterator, Options}

  # The NIF bounds nothing; the sidecar's tables of iterators, snapshots
  # and transactions are bounded only against a runaway caller.
  @max_handles 1_048_576

  @doc "Opens (with `create_if_missing: true`, creates) the database in exactly `path`."
  @spec open(R.path(), list()) :: {:ok, R.db_handle()} | {:error, term()}
  def open(path, opts) do
    with {:ok, db, _} <- open_db(path, opts, []), do: {:ok, db}
  end

  @doc "Opens the database with column families `[{name, cf_opts}]`; their handles come in order."
  @spec open(R.path(), list(), [{R.path(), list()}]) ::
          {:ok, R.db_handle(), [R.cf_handle()]} | {:error, term()}
  def open(path, opts, cf_descriptors), do: open_db(path, opts, cf_descriptors)

  @doc "The same as `open/3`."
  @spec open_with_cf(R.path(), list(), [{R.path(), list()}]) ::
          {:ok, R.db_handle(), [R.cf_handle()]} | {:error, term()}
  def open_with_cf(path, opts, cf_descriptors), do: open_db(path, opts, cf_descriptors)

  @doc """
  Opens the database in `path` read-only (RocksDB's OpenForReadOnly): it
  must exist; its LOCK is not taken, so it may be open for writing
  elsewhere (in this BEAM too); it is seen as it was at open; writes
  answer `{:error, _}`. Each call starts an engine of its own.
  """
  @spec open_readonly(R.path(), list()) :: {:ok, R.db_handle()} | {:error, term()}
  def open_readonly(path, opts) do
    with {:ok, db, _} <- open_db(path, opts, [], true), do: {:ok, db}
  end

  @doc "As `open_readonly/2`, with column families (which must exist)."
  @spec open_readonly(R.path(), list(), [{R.path(), list()}]) ::
          {:ok, R.db_handle(), [R.cf_handle()]} | {:error, term()}
  def open_readonly(path, opts, cf_descriptors), do: open_db(path, opts, cf_descriptors, true)

  @doc "The same as `open_readonly/3`."
  @spec open_with_cf_readonly(R.path(), list(), [{R.path(), list()}]) ::
          {:ok, R.db_handle(), [R.cf_handle()]} | {:error, term()}
  def open_with_cf_readonly(path, opts, cf_descriptors),
    do: open_db(path, opts, cf_descriptors, true)

  @doc """
  Opens a TTL database (RocksDB's DBWithTTL): each value goes at the first
  compaction after it is `ttl` seconds old (0 or less: never); reads never
  see the stamp RocksDB keeps beside it. A TTL database cannot be opened
  read-only here (`read_only` true answers `{:error, {:db_open, _}}`).
  """
  @spec open_with_ttl(R.path(), list(), integer(), boolean()) ::
          {:ok, R.db_handle()} | {:error, term()}
  def open_with_ttl(path, opts, ttl, read_only) when is_integer(ttl) and is_boolean(read_only) do
    opts = Args.opts!(opts) ++ [{:spire_value_ttl, max(ttl, 0)}]
    with {:ok, db, _} <- open_db(path, opts, [], read_only), do: {:ok, db}
  end

  defp open_db(path, opts, cfds, read_only? \\ false)

  defp open_db(path, opts, cfds, read_only?) when is_list(opts) and is_list(cfds) do
    abs = Args.expand!(path)
    families = for cfd <- Args.opts!(cfds), do: family_of(cfd)
    {engine_opts, create?, skipped} = Options.map(Args.opts!(opts))

    cond do
      # Path.expand("") is the working directory, not a database.
      abs == nil ->
        {:error, {:db_open, ~c"Invalid argument: an empty path"}}

      # A database whose last handle just went (a crashed test) closes
      # once the Registry has read the news: wait for that, as the NIF's
      # close runs in the collection itself.
      not read_only? and alive?(engine_name(abs)) and collect_garbage() and
          alive?(engine_name(abs)) ->
        {:error, {:db_open, ~c"IO error: lock hold by current process: #{abs}/LOCK"}}

      # Checked here, not by RocksDB: the sidecar reopens the database
      # after a restart, which error_if_exists would refuse.
      not read_only? and error_if_exists?(opts) and File.exists?(Path.join(abs, "CURRENT")) ->
        {:error, {:db_open, ~c"Invalid argument: #{abs}: exists (error_if_exists is true)"}}

      # An in-memory database is made at open, as the NIF's memenv does.
      (read_only? or not create?) and engine_opts[:in_memory] != true and
          not File.exists?(Path.join(abs, "CURRENT")) ->
        {:error,
         {:db_open, ~c"Invalid argument: #{abs}: does not exist (create_if_missing is false)"}}

      true ->
        if skipped != [],
          do: Logger.warning("rocksdb open #{abs}: options not applied: #{inspect(skipped)}")

        result =
          if read_only?,
            do: start_read_only(abs, families, engine_opts, 1),
            else: start_read_write(abs, families, engine_opts)

        with {:ok, {@db, name, _}, _} <- result,
             do: Store.KV.RocksDB.Objects.note_users(name, opts)

        result
    end
  end

  defp open_db(_path, _opts, _cfds, _read_only?), do: :erlang.error(:badarg)

  defp error_if_exists?(opts), do: {:error_if_exists, true} in opts or :error_if_exists in opts

  # A handle this process dropped (a failed test before this one, in the
  # same process) is still on its heap until it is collected.
  defp collect_garbage do
    :erlang.garbage_collect()
    Registry.sync()
  end

  defp family_of({name, cf_opts}) when is_list(cf_opts), do: Args.cf_name!(name)
  defp family_of(_), do: :erlang.error(:badarg)

  # Read-only engines of one path are numbered from 1, the lowest free
  # number taken, so repeated opens and closes reuse a few atoms.
  defp start_read_only(abs, families, engine_opts, n) do
    name = :"#{engine_name(abs)}_ro_#{n}"

    if alive?(name) or :ets.member(Registry.dbs(), name) do
      start_read_only(abs, families, engine_opts, n + 1)
    else
      case start(name, abs, families, [read_only: true] ++ engine_opts) do
        :taken -> start_read_only(abs, families, engine_opts, n + 1)
        result -> result
      end
    end
  end

  defp start_read_write(abs, families, engine_opts) do
    case start(engine_name(abs), abs, families, engine_opts) do
      # Another open of the same path won the race for its name.
      :taken -> {:error, {:db_open, ~c"IO error: lock hold by current process: #{abs}/LOCK"}}
      result -> result
    end
  end

  # :taken when an engine already runs under that name.
  defp start(name, abs, families, engine_opts) do
    opts =
      [
        path: abs,
        data_dir: abs,
        name: name,
        checkpoint_roots: ["/"],
        # A NIF handle lives until it is released or collected, never
        # closed for being idle.
        idle_timeout: :infinity,
        max_handles: @max_handles,
        column_families: Enum.reject(families, &(&1 == "default"))
      ] ++ engine_opts

    spec = Supervisor.child_spec({Engine, opts}, id: name)

    case DynamicSupervisor.start_child(Store.KV.RocksDB.Engines, spec) do
      {:ok, _pid} ->
        # The database lives while a handle on it does (Life), or until
        # close/1: the token tells this open from a later one of the path.
        token = make_ref()
        :ets.insert(Registry.dbs(), {name, abs, token})
        db = {@db, name, new_life({:db, name, token}, nil)}
        {:ok, db, Enum.map(families, &cf(db, &1))}

      {:error, {:already_started, _}} ->
        :taken

      {:error, {kind, msg}} when kind in [:open_failed, :bad_config] ->
        {:error, {:db_open, String.to_charlist(msg)}}

      {:error, reason} ->
        {:error, {:db_open, ~c"#{inspect(reason)}"}}
    end
  end

  @doc "Closes a database opened with `open/2,3` (and its iterators); `:ok` also when closed already."
  @spec close(R.db_handle()) :: :ok
  def close(db) do
    name = engine!(db)
    if life = life(db), do: Life.disarm(life)
    close_name(name)
  end

  @doc false
  @spec collected(atom(), reference()) :: :ok
  def collected(name, token) do
    case :ets.lookup(Registry.dbs(), name) do
      [{^name, _abs, ^token}] -> close_name(name)
      _ -> :ok
    end
  end

  defp close_name(name) do
    case :ets.lookup(Registry.dbs(), name) do
      [{^name, _abs, token}] when is_reference(token) ->
        Iterator.close_all(name)
        :ets.delete(Registry.dbs(), name)

        case Process.whereis(name) do
          nil -> :ok
          pid -> DynamicSupervisor.terminate_child(Store.KV.RocksDB.Engines, pid)
        end

        :ok

      # A shared engine (get_db_ref/1) belongs to its own supervisor.
      _ ->
        :ok
    end
  end

  @doc """
  A database handle on an engine started with `Store.KV.Engine.start_link/1`
  (by its registered name), as `Store.KV.Engine.get_db_ref/1` returns.
  """
  @spec db_handle(atom()) :: R.db_handle()
  def db_handle(name) when is_atom(name) do
    :ets.insert_new(Registry.dbs(), {name, nil, nil})
    {@db, name}
  end

  ## Databases no process holds open

  @doc """
  Deletes the database in `path` (RocksDB's DestroyDB): its files, and the
  directory once nothing else is in it. Fails while any process, this
  BEAM's engines included, has it open; a path with no database is left
  alone and gives `:ok`.
  """
  @spec destroy(R.path(), list()) :: :ok | {:error, term()}
  def destroy(path, db_opts), do: offline("destroy", path, db_opts)

  @doc """
  Salvages what it can of a damaged database in `path` (RocksDB's
  RepairDB; data may be lost). Fails while any process has it open.
  """
  @spec repair(R.path(), list()) :: :ok | {:error, term()}
  def repair(path, db_opts), do: offline("repair", path, db_opts)

  # An empty path would expand to the working directory, whose files
  # RocksDB would take for a database's.
  defp offline(cmd, path, db_opts) do
    Args.opts!(db_opts)

    case Args.expand!(path) do
      nil -> {:error, {:badarg, "#{cmd} needs a database path"}}
      dir -> Tool.run([cmd, dir])
    end
  end

  ## Maintenance

  @doc "Flushes the memtables of the default column family."
  @spec flush(R.db_handle(), list()) :: :ok | {:error, term()}
  def flush(db, opts), do: flush(db, :default_column_family, opts)

  @doc """
  Flushes the memtables of a column family, or of each of a list of them
  (`[]`: none). Flushes always wait for their end (`{:wait, true}`).
  """
  @spec flush(R.db_handle(), R.cf_handle() | [R.cf_handle()], list()) :: :ok | {:error, term()}
  def flush(db, cfs, opts) when is_list(cfs) do
    name = engine!(db)
    families = for cf <- Args.opts!(cfs), do: cf_opt(name, cf)
    Args.opts!(opts)

    Enum.reduce_while(families, :ok, fn family, :ok ->
      case flush_family(name, family) do
        :ok -> {:cont, :ok}
        error -> {:halt, error}
      end
    end)
  end

  def flush(db, cf, opts) do
    name = engine!(db)
    Args.opts!(opts)
    flush_family(name, cf_opt(name, cf))
  end

  defp flush_family(name, family) do
    opts = if family, do: [cf: family], else: []
    checked(name, Engine.flush(name, opts))
  end

  @doc """
  Makes every write acknowledged before it durable (an fsync of the WAL),
  as writing each with `sync: true` would have.
  """
  @spec sync_wal(R.db_handle()) :: :ok | {:error, term()}
  def sync_wal(db) do
    name = engine!(db)
    checked(name, Engine.Caller.call(name, {:sync_wal}, nil))
  end

  @doc """
  RocksDB's sequence number of the last write (one per put or delete, one
  per operation of a batch). `{:error, reason}` when the sidecar cannot
  answer, where the NIF has no error to give.
  """
  @spec get_latest_sequence_number(R.db_handle()) :: non_neg_integer() | {:error, term()}
  def get_latest_sequence_number(db) do
    name = engine!(db)

    case checked(name, Engine.Caller.call(name, {:latest_sequence_number}, nil)) do
      {:ok, seq} -> seq
      {:error, _} = error -> error
    end
  end

  @doc """
  Sizes the pool of compaction threads of the database's env (each
  database's sidecar has its own).
  """
  @spec set_db_background_threads(R.db_handle(), non_neg_integer()) :: :ok
  def set_db_background_threads(db, n), do: set_db_background_threads(db, n, :priority_low)

  @doc "As `set_db_background_threads/2`, for one pool: `:priority_low` (compactions) or `:priority_high` (flushes)."
  @spec set_db_background_threads(R.db_handle(), non_neg_integer(), atom()) :: :ok
  def set_db_background_threads(db, n, pri), do: set_threads(engine!(db), n, pri)

  @doc "Compacts `[begin, end]` (`:undefined` for an open end) of the default column family."
  @spec compact_range(R.db_handle(), binary() | :undefined, binary() | :undefined, list()) ::
          :ok | {:error, term()}
  def compact_range(db, begin_key, end_key, opts),
    do: compact_range(db, :default_column_family, begin_key, end_key, opts)

  @doc "Compacts a range of a column family."
  @spec compact_range(
          R.db_handle(),
          R.cf_handle(),
          binary() | :undefined,
          binary() | :undefined,
          list()
        ) ::
          :ok | {:error, term()}
  def compact_range(db, cf, begin_key, end_key, _opts) do
    name = engine!(db)
    opts = if f = cf_opt(name, cf), do: [cf: f], else: []
    checked(name, Engine.compact_range(name, bound(begin_key), bound(end_key), opts))
  end

  defp bound(:undefined), do: nil
  defp bound(b) when is_binary(b), do: b
  defp bound(_), do: :erlang.error(:badarg)

  @doc """
  RocksDB's estimate of the bytes each `{start, limit}` range of the
  default column family takes: in SST files (`:include_files`), in the
  memtables (`:include_memtables`) or both (`:include_both`). A bare list,
  as the NIF's.
  """
  @spec get_approximate_sizes(R.db_handle(), [{binary(), binary()}], atom()) :: [
          non_neg_integer()
        ]
  def get_approximate_sizes(db, ranges, flag),
    do: get_approximate_sizes(db, :default_column_family, ranges, flag)

  @doc "As `get_approximate_sizes/3`, for a column family."
  @spec get_approximate_sizes(R.db_handle(), R.cf_handle(), [{binary(), binary()}], atom()) ::
          [non_neg_integer()]
  def get_approximate_sizes(db, cf, ranges, flag)
      when flag in [:include_both, :include_files, :include_memtables] do
    name = engine!(db)
    ranges = for {s, l} <- Args.opts!(ranges), do: {key!(s), key!(l)}
    opts = if f = cf_opt(name, cf), do: [cf: f], else: []

    case checked(name, Engine.Caller.call(name, {:approximate_sizes, ranges, flag, opts}, nil)) do
      {:ok, sizes} -> sizes
      {:error, _} = error -> error
    end
  end

  @doc """
  RocksDB's estimate of the entries and bytes of `[start, limit)` of the
  default column family in its memtables: `{:ok, {count, size}}`.
  """
  @spec get_approximate_memtable_stats(R.db_handle(), binary(), binary()) ::
          {:ok, {non_neg_integer(), non_neg_integer()}} | {:error, term()}
  def get_approximate_memtable_stats(db, start, limit),
    do: get_approximate_memtable_stats(db, :default_column_family, start, limit)

  @doc "As `get_approximate_memtable_stats/3`, for a column family."
  @spec get_approximate_memtable_stats(R.db_handle(), R.cf_handle(), binary(), binary()) ::
          {:ok, {non_neg_integer(), non_neg_integer()}} | {:error, term()}
  def get_approximate_memtable_stats(db, cf, start, limit) do
    name = engine!(db)
    opts = if f = cf_opt(name, cf), do: [cf: f], else: []
    request = {:approximate_memtable_stats, key!(start), key!(limit), opts}
    checked(name, Engine.Caller.call(name, request, nil))
  end

  @doc "A RocksDB property of the default column family: `{:ok, binary}`."
  @spec get_property(R.db_handle(), binary()) :: {:ok, binary()} | {:error, term()}
  def get_property(db, property), do: get_property(db, :default_column_family, property)

  @doc "A RocksDB property of a column family."
  @spec get_property(R.db_handle(), R.cf_handle(), binary()) :: {:ok, binary()} | {:error, term()}
  def get_property(db, cf, property) when is_binary(property) do
    name = engine!(db)
    opts = if f = cf_opt(name, cf), do: [cf: f], else: []
    checked(name, Engine.get_property(name, property, opts))
  end

  @doc "RocksDB's `rocksdb.stats` text for the default column family."
  @spec stats(R.db_handle()) :: {:ok, binary()} | {:error, term()}
  def stats(db), do: get_property(db, "rocksdb.stats")

  @doc "RocksDB's `rocksdb.stats` text for a column family."
  @spec stats(R.db_handle(), R.cf_handle()) :: {:ok, binary()} | {:error, term()}
  def stats(db, cf), do: get_property(db, cf, "rocksdb.stats")

  @doc "Whether the default column family holds no key."
  @spec is_empty(R.db_handle()) :: boolean()
  def is_empty(db) do
    name = engine!(db)

    case checked(name, Engine.scan_range(name, "", "", limit: 1)) do
      {:ok, []} -> true
      {:ok, _} -> false
      {:error, _} = error -> error
    end
  end
end
