defmodule Store.KV.Engine do
  @moduledoc """
  SpireDB's storage engine: RocksDB served by the `spire-port` sidecar.

  `Store.KV.Engine` starts `spire-port` as an Erlang port and keeps the
  engine's documented API, so callers use it as if RocksDB were in-process,
  while a RocksDB crash can never take the BEAM down: the sidecar is an OS
  process of its own, the engine process stops when it exits, its supervisor
  starts a new one, and RocksDB's WAL recovers every acknowledged write.

      {:ok, _pid} = Store.KV.Engine.start_link(path: "/var/lib/spiredb")
      :ok = Store.KV.Engine.put(Store.KV.Engine, "user:1", "alice")
      {:ok, "alice"} = Store.KV.Engine.get(Store.KV.Engine, "user:1")
      {:ok, [{rows, stats}]} =
        Store.KV.Engine.scan_range(Store.KV.Engine, "user:", "user:~", batch_size: 1000)

  ## How a call travels

  The calling process encodes its request and sends it to the engine
  process, which writes every request waiting in its mailbox to the port in
  one write (a batch frame), and routes each reply, by the 8-byte id in
  front of it, to the caller's alias; the caller decodes it. The engine
  process never encodes or decodes a term, and the sidecar serves the gets
  (or the puts) that arrive together with one RocksDB call.

  ## Options

    * `:path` (required) - the data root: RocksDB lives in `<path>/data`,
      checkpoints in `<path>/checkpoints`.
    * `:data_dir` - RocksDB's own directory instead of `<path>/data` (to
      open a database where the NIF kept it).
    * `:checkpoint_roots` - directories checkpoints and backups may go
      under (`[<path>/checkpoints]`); the first takes relative paths.
    * `:read_cache_size` - bytes of an ETS cache of point reads (0, off):
      gets of hot keys on the default column family are answered without
      crossing the pipe. A read never returns a value older than the last
      write acknowledged before it began (see `Store.KV.Engine.ReadCache`);
      snapshot and column-family reads bypass it.
    * `:name` - the registered name, default `Store.KV.Engine`; `nil` for none.
    * `:binary` - the `spire-port` executable. By default the one the
      project builds into `bin/` (see `Store.KV.Engine.Options`), or
      `$SPIRE_PORT_BINARY`.
    * `:timeout` - default timeout of each call in ms (5000). A scan's
      timeout applies to each batch, so it never times out while rows flow.
    * `:column_families` - families to open or create besides `"default"`;
      those already on disk are always opened.
    * `:idle_timeout` - ms before the sidecar closes an unused cursor or
      snapshot (300000).
    * `:max_frame` - the largest request in bytes (64 MiB).
    * `:lock_timeout` - how long to wait for a LOCK still held by a
      closing sidecar on the same path before failing (5000 ms).
    * `:spin` - µs the sidecar keeps polling its stdin after a reply
      before it sleeps (50; 0 sleeps at once). A request that finds it
      polling skips the wake-up of a sleeping thread, tens of µs on a
      virtual machine; polling costs up to this much CPU per request burst.
    * RocksDB: `:profile` (`:"write-heavy"`, `:"read-heavy"`, `:mixed`),
      `:block_cache_size`, `:bloom_bits_per_key`, `:compression` (`:none`,
      `:snappy`, `:lz4`, `:zstd`), `:write_buffer_size`,
      `:max_write_buffer_number`, `:rate_limit_bytes_per_sec`,
      `:max_background_jobs`, `:memtable_bloom_percent`, `:min_free_disk_bytes`,
      `:db_write_buffer_size`, and the erlang-rocksdb names
      `:bottommost_compression`, `:max_bytes_for_level_base`,
      `:target_file_size_base`, `:min_write_buffer_number_to_merge`,
      `:max_open_files`, `:level_compaction_dynamic_level_bytes`,
      `:max_total_wal_size`, `:wal_recovery_mode`, `:recycle_log_file_num`,
      `:wal_bytes_per_sync`, `:optimize_filters_for_hits`,
      `:allow_concurrent_memtable_write`, `:enable_write_thread_adaptive_yield`,
      `:block_size`, `:cache_index_and_filter_blocks`, `:format_version`. Each
      overrides its `SPIRE_ROCKSDB_*` variable (README, "Configuration").

  ## Errors

  Calls return values, never raise on engine trouble: `{:error, :not_found}`,
  `{:error, :engine_down}` when the sidecar is gone, `{:error, :timeout}`,
  `{:error, {:badarg, message}}` for a bad argument, `{:error, {:rocksdb,
  message}}` for a RocksDB failure, `{:error, {:unknown_column_family, name}}`.
  """

  use GenServer
  import Bitwise
  require Logger

  alias Store.KV.Engine.Options
  alias Store.KV.Engine.ReadCache

  @typedoc "A running engine: its registered name or pid."
  @type engine :: GenServer.server()
  @type key :: binary()
  @type value :: binary()
  @type reason ::
          :not_found
          | :engine_down
          | :timeout
          | :closed
          | {:badarg, String.t()}
          | {:rocksdb, String.t()}
          | {:unknown_column_family, String.t()}
          | term()
  @type batch_op ::
          {:put, key(), value()}
          | {:put, String.t(), key(), value()}
          | {:delete, key()}
          | {:delete, String.t(), key()}
          | {:delete_range, key(), key()}
          | {:delete_range, String.t(), key(), key()}
  @type scan_stats :: %{
          rows_returned: non_neg_integer(),
          bytes_read: non_neg_integer(),
          scan_time_ms: float()
        }
  @typedoc "A snapshot handle from `with_snapshot/2` or `snapshot/1`."
  @type snapshot :: {:snapshot, pos_integer()}
  @type read_opt :: {:cf, String.t()} | {:snapshot, snapshot()} | {:timeout, timeout()}
  @type write_opt :: {:cf, String.t()} | {:sync, boolean()} | {:timeout, timeout()}
  @type scan_opt ::
          read_opt() | {:batch_size, pos_integer()} | {:limit, non_neg_integer()}

  # Atoms the sidecar may send; naming them here guarantees they exist, so
  # replies decode with binary_to_term(bin, [:safe]).
  @reply_atoms ~w(ok error ready rows done not_found closed badarg rocksdb internal
                  unknown_column_family unknown_cursor unknown_snapshot too_many_iterators
                  too_many_snapshots open_failed bad_config rows_returned bytes_read
                  scan_time_ms tickers histograms properties column_families sidecar p50 p95
                  p99 max count sum capacity usage pinned_usage strict_capacity version path
                  open_iterators open_snapshots requests bad_frames groups grouped replies true false
                  log writes_stopped recoveries last_write_error unknown_iterator
                  no_backups backup_progress dir bytes id timestamp size files)a
  @doc false
  @spec __reply_atoms__() :: [atom()]
  def __reply_atoms__, do: @reply_atoms

  @telemetry? Code.ensure_loaded?(:telemetry)
  @batch_id 0xFFFFFFFFFFFFFFFF
  # The most requests one write carries.
  @max_batch 64

  ## Starting

  @doc """
  Starts the sidecar and waits until RocksDB is open. Returns
  `{:error, reason}` with the sidecar's own message when the database
  cannot be opened (`{:open_failed, msg}` for a held LOCK or an unwritable
  dir, `{:bad_config, msg}` for a bad option), rather than crash-looping.
  Raises ArgumentError for invalid options. See the moduledoc for options.
  """
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts) do
    opts = Options.validate!(opts)

    case opts[:name] do
      nil -> GenServer.start_link(__MODULE__, opts)
      name -> GenServer.start_link(__MODULE__, opts, name: name)
    end
  end

  @doc "A child spec with a 30 s shutdown, time for RocksDB to close."
  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(opts) do
    %{
      id: Keyword.get(opts, :name, __MODULE__) || __MODULE__,
      start: {__MODULE__, :start_link, [opts]},
      shutdown: 30_000
    }
  end

  ## Point operations

  @doc """
  Reads the value under `key`. Options: `:cf`, `:snapshot`, `:timeout`.

      {:ok, "alice"} = Store.KV.Engine.get(engine, "user:1")
      {:error, :not_found} = Store.KV.Engine.get(engine, "user:404")
  """
  @spec get(engine(), key(), [read_opt()]) :: {:ok, value()} | {:error, reason()}
  def get(engine, key, opts \\ [])

  def get(engine, key, []) when is_binary(key) do
    with {:ok, ctx} <- lookup(engine) do
      case ctx.cache do
        nil -> call_ctx(ctx, {:get, key, []}, nil)
        cache -> ReadCache.get(cache, key, fn -> call_ctx(ctx, {:get, key, []}, nil) end)
      end
    end
  end

  def get(engine, key, opts) when is_binary(key) do
    with {:ok, wire, timeout} <- wire_opts(opts, [:cf, :snapshot]) do
      call(engine, {:get, key, wire}, timeout)
    end
  end

  def get(_engine, key, _opts), do: badarg("key must be a binary, got: #{inspect(key)}")

  @doc """
  Reads many keys at once; each result is the value or `:not_found`, in
  the order of `keys`. Options as for `get/3`.
  """
  @spec multi_get(engine(), [key()], [read_opt()]) ::
          {:ok, [value() | :not_found]} | {:error, reason()}
  def multi_get(engine, keys, opts \\ []) do
    if is_list(keys) and Enum.all?(keys, &is_binary/1) do
      with {:ok, wire, timeout} <- wire_opts(opts, [:cf, :snapshot]) do
        call(engine, {:multi_get, keys, wire}, timeout)
      end
    else
      badarg("keys must be a list of binaries, got: #{inspect(keys, limit: 5)}")
    end
  end

  @doc """
  Stores `value` under `key`. `:ok` means the write is in RocksDB's WAL and
  survives a crash of the sidecar or of the BEAM; with `sync: true` the WAL
  is fsynced first, so it also survives a crash of the OS. Options: `:cf`,
  `:sync`, `:timeout`.
  """
  @spec put(engine(), key(), value(), [write_opt()]) :: :ok | {:error, reason()}
  def put(engine, key, value, opts \\ [])

  def put(engine, key, value, opts) when is_binary(key) and is_binary(value) do
    with {:ok, wire, timeout} <- wire_opts(opts, [:cf, :sync]) do
      write(engine, {:put, key, value, wire}, timeout, &ReadCache.written(&1, key))
    end
  end

  def put(_engine, key, value, _opts),
    do:
      badarg("key and value must be binaries, got: #{inspect(key)}, #{inspect(value, limit: 5)}")

  @doc "Deletes `key`; deleting a missing key is `:ok`. Options as for `put/4`."
  @spec delete(engine(), key(), [write_opt()]) :: :ok | {:error, reason()}
  def delete(engine, key, opts \\ [])

  def delete(engine, key, opts) when is_binary(key) do
    with {:ok, wire, timeout} <- wire_opts(opts, [:cf, :sync]) do
      write(engine, {:delete, key, wire}, timeout, &ReadCache.written(&1, key))
    end
  end

  def delete(_engine, key, _opts), do: badarg("key must be a binary, got: #{inspect(key)}")

  @doc """
  Deletes every key in `[start_key, end_key)` of one column family.
  Options as for `put/4`.
  """
  @spec delete_range(engine(), key(), key(), [write_opt()]) :: :ok | {:error, reason()}
  def delete_range(engine, start_key, end_key, opts \\ [])

  def delete_range(engine, start_key, end_key, opts)
      when is_binary(start_key) and is_binary(end_key) and end_key != "" do
    with {:ok, wire, timeout} <- wire_opts(opts, [:cf, :sync]) do
      write(engine, {:delete_range, start_key, end_key, wire}, timeout, &ReadCache.written_all/1)
    end
  end

  def delete_range(_engine, s, e, _opts),
    do: badarg("start and end must be binaries, end non-empty, got: #{inspect(s)}, #{inspect(e)}")

  @doc """
  Applies puts and deletes atomically: all of them or none, also across
  column families (`{:put, cf, k, v}`, `{:delete, cf, k}`). Options: `:sync`,
  `:timeout`.

      :ok = Store.KV.Engine.write_batch(engine, [{:put, "a", "1"}, {:delete, "b"}])
  """
  @spec write_batch(engine(), [batch_op()], [{:sync, boolean()} | {:timeout, timeout()}]) ::
          :ok | {:error, reason()}
  def write_batch(engine, ops, opts \\ []) do
    case check_batch(ops, 1) do
      :ok ->
        with {:ok, wire, timeout} <- wire_opts(opts, [:sync]) do
          write(engine, {:write_batch, ops, wire}, timeout, &batch_written(&1, ops))
        end

      error ->
        error
    end
  end

  defp check_batch([], _), do: :ok

  defp check_batch([op | rest], i) do
    if valid_op?(op),
      do: check_batch(rest, i + 1),
      else: badarg("batch entry #{i} is invalid: #{inspect(op, limit: 5)}")
  end

  defp check_batch(other, _), do: badarg("a batch is a list, got: #{inspect(other, limit: 5)}")

  defp valid_op?({:put, k, v}), do: is_binary(k) and is_binary(v)
  defp valid_op?({:put, cf, k, v}), do: cf?(cf) and is_binary(k) and is_binary(v)
  defp valid_op?({:delete, k}), do: is_binary(k)
  defp valid_op?({:delete, cf, k}), do: cf?(cf) and is_binary(k)
  defp valid_op?({:delete_range, s, e}), do: is_binary(s) and is_binary(e)
  defp valid_op?({:delete_range, cf, s, e}), do: cf?(cf) and is_binary(s) and is_binary(e)
  defp valid_op?(_), do: false

  defp cf?(cf), do: is_binary(cf) and cf != ""

  ## Range reads

  @doc """
  Reads `[start_key, end_key]` in key order. `end_key` is inclusive and
  `""` means "to the end of the keyspace". Returns the rows in batches of
  at most `:batch_size` (1000), each with its stats:

      {:ok, [{rows, %{rows_returned: n, bytes_read: b, scan_time_ms: ms}} | _]} =
        Engine.scan_range(engine, "user:", "user:~", batch_size: 1000)

  An empty range gives `{:ok, []}`. Options: `:batch_size`, `:limit`
  (total rows, 0 = no limit), `:cf`, `:snapshot`, `:timeout` (per batch).

  Keys and values are sub-binaries of the batch they came in (no copy per
  row); a process that keeps a few of them from a large scan for a long
  time should `:binary.copy/1` them, so they do not keep their batches'
  memory alive. The same holds for `scan_stream/4`.
  """
  @spec scan_range(engine(), key(), key(), [scan_opt()]) ::
          {:ok, [{[{key(), value()}], scan_stats()}]} | {:error, reason()}
  def scan_range(engine, start_key, end_key, opts \\ [])

  def scan_range(engine, start_key, end_key, opts)
      when is_binary(start_key) and is_binary(end_key) do
    with {:ok, wire, timeout} <- wire_opts(opts, [:cf, :snapshot, :batch_size, :limit]) do
      # Packed rows: each frame's rows come as one binary, split here into
      # sub-binaries of the frame (see decode_frames/1).
      stream_call(engine, {:scan, start_key, end_key, [{:packed, true} | wire]}, timeout)
    end
  end

  def scan_range(_engine, s, e, _opts),
    do: badarg("start and end keys must be binaries, got: #{inspect(s)}, #{inspect(e)}")

  @doc """
  A lazy `Stream` of `{key, value}` over `[start_key, end_key]` (inclusive,
  `""` = to the end), read batch by batch through a cursor in the sidecar.
  The next batch is fetched while the current one is consumed. The cursor
  is closed when the stream is done or halted, and by the engine if the
  consuming process dies. Options as for `scan_range/4`. Enumerating raises
  `Store.KV.Engine.Error` if the engine fails mid-stream.
  """
  @spec scan_stream(engine(), key(), key(), [scan_opt()]) :: Enumerable.t()
  def scan_stream(engine, start_key, end_key, opts \\ [])
      when is_binary(start_key) and is_binary(end_key) do
    Store.KV.Engine.Stream.new(engine, start_key, end_key, opts)
  end

  ## Snapshots

  @doc """
  Runs `fun` with a snapshot: a consistent view for `get/3`, `multi_get/3`,
  `scan_range/4` and `scan_stream/4` (pass it as `snapshot:`). Writes made
  after it was taken are invisible through it. It is released when `fun`
  returns or raises, and by the engine if the process dies.

      Engine.with_snapshot(engine, fn snap -> Engine.get(engine, "k", snapshot: snap) end)
  """
  @spec with_snapshot(engine(), (snapshot() -> result)) :: result | {:error, reason()}
        when result: term()
  def with_snapshot(engine, fun) when is_function(fun, 1) do
    case snapshot(engine) do
      {:ok, snap} ->
        try do
          fun.(snap)
        after
          release_snapshot(engine, snap)
        end

      error ->
        error
    end
  end

  @doc "Takes a snapshot; release it with `release_snapshot/2`. Prefer `with_snapshot/2`."
  @spec snapshot(engine()) :: {:ok, snapshot()} | {:error, reason()}
  def snapshot(engine) do
    with {:ok, id} <- call(engine, {:snapshot_open}, nil) do
      watch(engine, :snapshot, id)
      {:ok, {:snapshot, id}}
    end
  end

  @doc "Releases a snapshot."
  @spec release_snapshot(engine(), snapshot()) :: :ok | {:error, reason()}
  def release_snapshot(engine, {:snapshot, id}) do
    unwatch(engine, :snapshot, id)
    call(engine, {:snapshot_close, id}, nil)
  end

  ## Monitoring

  @doc """
  RocksDB's statistics under RocksDB's own names:

      {:ok, %{tickers: %{"rocksdb.block.cache.hit" => n, ...},
              histograms: %{"rocksdb.db.get.micros" => %{p50: _, p95: _, p99: _, max: _, count: _, sum: _}},
              properties: %{"rocksdb.estimate-num-keys" => n, ...},
              column_families: %{"default" => %{...}},
              sidecar: %{open_iterators: n, open_snapshots: n, requests: n, ...}}}
  """
  @spec get_stats(engine()) :: {:ok, map()} | {:error, reason()}
  def get_stats(engine), do: call(engine, {:stats}, nil)

  @doc "The block cache: `{:ok, %{capacity:, usage:, pinned_usage:, strict_capacity:}}`."
  @spec get_cache_info(engine()) :: {:ok, map()} | {:error, reason()}
  def get_cache_info(engine), do: call(engine, {:cache_info}, nil)

  @doc """
  Any RocksDB property, e.g. `"rocksdb.stats"` or
  `"rocksdb.num-files-at-level0"`, as a string. Options: `:cf`.
  """
  @spec get_property(engine(), String.t(), [{:cf, String.t()}]) ::
          {:ok, String.t()} | {:error, reason()}
  def get_property(engine, name, opts \\ []) when is_binary(name) do
    with {:ok, wire, timeout} <- wire_opts(opts, [:cf]) do
      call(engine, {:property, name, wire}, timeout)
    end
  end

  @doc """
  A `Store.KV.RocksDB` database handle on this engine's database (by its
  registered name), for code that calls erlang-rocksdb's API: the handle
  SpireDB keeps in `:persistent_term`. It stays valid across restarts.
  """
  @spec get_db_ref(engine()) :: Store.KV.RocksDB.db_handle()
  def get_db_ref(engine) when is_atom(engine), do: Store.KV.RocksDB.db_handle(engine)

  def get_db_ref(engine) when is_pid(engine) do
    case Process.info(engine, :registered_name) do
      {:registered_name, name} when is_atom(name) -> get_db_ref(name)
      _ -> raise ArgumentError, "get_db_ref/1 needs an engine with a registered name"
    end
  end

  @doc """
  `Store.KV.RocksDB` handles of every column family of the engine, by name
  (`%{"default" => :default_column_family, "users" => cf, ...}`).
  """
  @spec get_cf_refs(engine()) ::
          {:ok, %{String.t() => Store.KV.RocksDB.cf_handle()}} | {:error, reason()}
  def get_cf_refs(engine), do: engine |> get_db_ref() |> Store.KV.RocksDB.column_families()

  @doc """
  The read cache's counters: `{:ok, %{enabled: true, hits:, misses:,
  bytes:, entries:, budget:}}`, or `{:ok, %{enabled: false}}` without
  `read_cache_size:`.
  """
  @spec read_cache_stats(engine()) :: {:ok, map()} | {:error, :engine_down}
  def read_cache_stats(engine) do
    with {:ok, ctx} <- lookup(engine), do: {:ok, ReadCache.stats(ctx.cache)}
  end

  @doc "Sends a request through the whole path but RocksDB: the floor of every latency."
  @spec ping(engine()) :: :ok | {:error, reason()}
  def ping(engine), do: call(engine, {:ping}, nil)

  ## Operations

  @doc "Flushes a column family's memtables to SST files and waits. Options: `:cf`, `:timeout`."
  @spec flush(engine(), [{:cf, String.t()} | {:timeout, timeout()}]) :: :ok | {:error, reason()}
  def flush(engine, opts \\ []) do
    with {:ok, wire, timeout} <- wire_opts(opts, [:cf]) do
      call(engine, {:flush, wire}, timeout || 60_000)
    end
  end

  @doc """
  Compacts `[start_key, end_key]` (`nil` = open end) and waits.
  Options: `:cf`, `:timeout` (default 10 minutes).
  """
  @spec compact_range(engine(), key() | nil, key() | nil, [
          {:cf, String.t()} | {:timeout, timeout()}
        ]) ::
          :ok | {:error, reason()}
  def compact_range(engine, start_key \\ nil, end_key \\ nil, opts \\ []) do
    with {:ok, wire, timeout} <- wire_opts(opts, [:cf]) do
      call(engine, {:compact_range, start_key, end_key, wire}, timeout || 600_000)
    end
  end

  @doc """
  Writes an openable copy of the database, every column family, while
  writes go on: SST files are hard-linked on the same file system and
  copied onto another. The checkpoint is an engine layout (RocksDB's files
  in `<dir>/data`): restore by `start_link(path: dir)`.

  `dir` must lie under one of the engine's checkpoint roots
  (`checkpoint_roots:`, default `[<path>/checkpoints]`); a relative `dir`
  goes under the first. A target that exists, or a path outside every root
  (also through a symlink), is `{:error, {:badarg, msg}}` with nothing
  created.
  """
  @spec checkpoint(engine(), String.t()) :: :ok | {:error, reason()}
  def checkpoint(engine, dir) when is_binary(dir), do: call(engine, {:checkpoint, dir}, 600_000)

  ## Backups

  @doc """
  Adds an incremental backup of the database to `backup_dir` (under a
  checkpoint root, as for `checkpoint/2`; created if missing) with
  RocksDB's BackupEngine: SST files already in `backup_dir` are shared, not
  copied again. Reads and writes go on while it runs; the backup holds what
  the database held when it began. Returns `{:ok, %{id: n, timestamp:
  unix_seconds, size: bytes, files: n}}`.

  Options: `flush: true` writes the memtables to SST files first (else the
  WAL is backed up); `rate_limit_bytes_per_sec:` caps the copy;
  `progress_every_bytes:` (64 MiB) how often a progress log line and a
  `[:store, :kv, :engine, :backup, :progress]` telemetry event
  (`%{bytes: n}`, `%{dir: dir}`) report a long backup; `timeout:`
  (`:infinity`).
  """
  @spec backup(engine(), String.t(), keyword()) ::
          {:ok, Store.KV.Engine.Backup.info()} | {:error, reason()}
  def backup(engine, backup_dir, opts \\ []),
    do: Store.KV.Engine.Backup.backup(engine, backup_dir, opts)

  @doc """
  The backups in `backup_dir`, oldest first: `{:ok, [%{id:, timestamp:,
  size:, files:}]}`. Needs no engine; `{:error, {:no_backups, msg}}` when the
  directory does not exist.
  """
  @spec list_backups(String.t()) :: {:ok, [Store.KV.Engine.Backup.info()]} | {:error, reason()}
  def list_backups(backup_dir), do: Store.KV.Engine.Backup.list(backup_dir)

  @doc """
  Checks every file of backup `id`: there, of its size, with its checksum.
  A damaged file is `{:error, {:rocksdb, "Corruption: ..."}}`.
  """
  @spec verify_backup(String.t(), pos_integer()) :: :ok | {:error, reason()}
  def verify_backup(backup_dir, id), do: Store.KV.Engine.Backup.verify(backup_dir, id)

  @doc "Deletes backup `id` and the files no other backup needs."
  @spec delete_backup(String.t(), pos_integer()) :: :ok | {:error, reason()}
  def delete_backup(backup_dir, id), do: Store.KV.Engine.Backup.delete(backup_dir, id)

  @doc "Keeps the newest `keep: n` backups and deletes the others."
  @spec purge_old_backups(String.t(), keyword()) :: :ok | {:error, reason()}
  def purge_old_backups(backup_dir, opts), do: Store.KV.Engine.Backup.purge(backup_dir, opts)

  @doc """
  Writes backup `id` (or `:latest`) to `to_path` as an engine layout
  (`<to_path>/data`), so `start_link(path: to_path)` opens it. A path that
  holds a database (where an engine may run) is refused: restore to a new
  path.
  """
  @spec restore_backup(String.t(), pos_integer() | :latest, String.t()) ::
          :ok | {:error, reason()}
  def restore_backup(backup_dir, id, to_path),
    do: Store.KV.Engine.Backup.restore(backup_dir, id, to_path)

  ## Column families

  @doc "Lists the column families."
  @spec list_column_families(engine()) :: {:ok, [String.t()]} | {:error, reason()}
  def list_column_families(engine), do: call(engine, {:cf_list}, nil)

  @doc "Creates a column family."
  @spec create_column_family(engine(), String.t()) :: :ok | {:error, reason()}
  def create_column_family(engine, name) when is_binary(name),
    do: call(engine, {:cf_create, name}, nil)

  @doc "Drops a column family and its data."
  @spec drop_column_family(engine(), String.t()) :: :ok | {:error, reason()}
  def drop_column_family(engine, name) when is_binary(name),
    do: call(engine, {:cf_drop, name}, nil)

  @doc "The OS pid of the sidecar (for operators and tests)."
  @spec os_pid(engine()) :: {:ok, non_neg_integer()} | {:error, :engine_down}
  def os_pid(engine) do
    with {:ok, ctx} <- lookup(engine) do
      case Port.info(ctx.port, :os_pid) do
        {:os_pid, pid} -> {:ok, pid}
        nil -> {:error, :engine_down}
      end
    end
  end

  ## The calling side

  defp badarg(msg), do: {:error, {:badarg, msg}}

  # Splits opts into the sidecar's options and the call timeout.
  @doc false
  @spec wire_opts(term(), [atom()]) :: {:ok, keyword(), timeout() | nil} | {:error, reason()}
  def wire_opts(opts, allowed) when is_list(opts) do
    Enum.reduce_while(opts, {:ok, [], nil}, fn
      {:timeout, t}, {:ok, wire, _} when (is_integer(t) and t > 0) or t == :infinity ->
        {:cont, {:ok, wire, t}}

      {key, value} = opt, {:ok, wire, t} ->
        if key in allowed and valid_opt?(key, value) do
          {:cont, {:ok, [wire_opt(opt) | wire], t}}
        else
          {:halt,
           badarg("invalid option #{inspect(opt)}; accepted: #{inspect([:timeout | allowed])}")}
        end

      other, _ ->
        {:halt, badarg("invalid option #{inspect(other)}")}
    end)
  end

  def wire_opts(opts, _allowed),
    do: badarg("options must be a keyword list, got: #{inspect(opts)}")

  defp valid_opt?(:cf, v), do: cf?(v)
  defp valid_opt?(:sync, v), do: is_boolean(v)
  defp valid_opt?(:snapshot, {:snapshot, id}), do: is_integer(id) and id > 0
  defp valid_opt?(:batch_size, v), do: is_integer(v) and v > 0 and v <= 100_000
  defp valid_opt?(:limit, v), do: is_integer(v) and v >= 0 and v < 0x8000000000000000
  defp valid_opt?(_, _), do: false

  defp wire_opt({:snapshot, {:snapshot, id}}), do: {:snapshot, id}
  defp wire_opt(opt), do: opt

  @typedoc false
  @type ctx :: %{port: port(), owner: pid(), timeout: timeout()}

  @doc false
  @spec lookup(engine()) :: {:ok, ctx()} | {:error, :engine_down}
  def lookup(engine) do
    case GenServer.whereis(engine) do
      pid when is_pid(pid) ->
        case :persistent_term.get({__MODULE__, pid}, nil) do
          nil -> {:error, :engine_down}
          ctx -> {:ok, ctx}
        end

      _ ->
        {:error, :engine_down}
    end
  end

  # Sends a request and waits for its one reply.
  @doc false
  @spec call(engine(), tuple(), timeout() | nil) :: term()
  def call(engine, request, timeout) do
    with {:ok, ctx} <- lookup(engine), do: call_ctx(ctx, request, timeout)
  end

  defp call_ctx(ctx, request, timeout) do
    # A :reply alias deactivates itself with the first reply it receives.
    ref = :erlang.alias([:reply])
    submit(ctx, ref, request)

    case await(ctx, ref, timeout || ctx.timeout) do
      {:ok, body} -> decode(body)
      error -> finish(ref, error)
    end
  end

  # A write tells the read cache, once it is answered (also with an error
  # or a timeout: it may still have been applied) and before its caller
  # hears of it; see Store.KV.Engine.ReadCache.
  defp write(engine, request, timeout, written) do
    with {:ok, ctx} <- lookup(engine) do
      result = call_ctx(ctx, request, timeout)
      written.(ctx.cache)
      result
    end
  end

  defp batch_written(nil, _ops), do: :ok

  defp batch_written(cache, ops) do
    Enum.each(ops, fn
      {:put, k, _} -> ReadCache.written(cache, k)
      {:delete, k} -> ReadCache.written(cache, k)
      {:delete_range, _, _} -> ReadCache.written_all(cache)
      _other_family -> :ok
    end)
  end

  # A request answered by several frames ({:rows, ...} then {:done, ...}).
  defp stream_call(engine, request, timeout) do
    with {:ok, ctx} <- lookup(engine),
         {:ok, ref} <- send_request(ctx, request) do
      finish(ref, collect(ctx, ref, timeout || ctx.timeout, [], 0))
    end
  end

  # Frames are kept undecoded (refc binaries) until the last arrives: their
  # row counts are read from each packed frame's Count, the heap is sized for the
  # whole result, and only then are they decoded. Decoding as they came
  # made the caller's heap grow by repeated garbage collections, which
  # halved the throughput of a 200k-row scan.
  defp collect(ctx, ref, timeout, frames, rows) do
    case await(ctx, ref, timeout) do
      {:ok, <<131, 104, 4, 119, 4, tag::binary-size(4), 98, count::32, _::binary>> = frame}
      when tag in ["rows", "done"] ->
        frames = [frame | frames]

        if tag == "rows",
          do: collect(ctx, ref, timeout, frames, rows + count),
          else: decode_batches(frames, rows + count)

      {:ok, body} ->
        decode(body)

      error ->
        error
    end
  end

  # ~20 words per row (list cell, tuple, two sub-binaries of the frame).
  @words_per_row 24
  @max_presize 32_000_000

  @presize_from 5_000

  defp decode_batches(frames, rows) when rows < @presize_from, do: {:ok, decode_frames(frames)}

  defp decode_batches(frames, rows) do
    old = Process.flag(:min_heap_size, min(rows * @words_per_row, @max_presize))

    try do
      {:ok, decode_frames(frames)}
    after
      Process.flag(:min_heap_size, old)
    end
  end

  # frames are newest first; the batches come out oldest first.
  defp decode_frames(frames) do
    Enum.reduce(frames, [], fn frame, acc ->
      case decode_batch(frame) do
        {_, [], _} -> acc
        {_, rows, stats} -> [{rows, stats} | acc]
      end
    end)
  end

  # One batch of a scan or cursor: {:rows | :done, rows, stats}, from a
  # packed frame ({Tag, Count, <<rows>>, Stats}) or a plain one; any other
  # reply (an error) decodes as usual.
  @doc false
  @spec decode_batch(binary()) :: term()
  def decode_batch(
        <<131, 104, 4, 119, 4, tag::binary-size(4), 98, _::32, 109, len::32,
          packed::binary-size(len), stats::binary>>
      ) do
    {if(tag == "done", do: :done, else: :rows), unpack(packed, []),
     :erlang.binary_to_term(<<131, stats::binary>>, [:safe])}
  end

  def decode_batch(frame), do: decode(frame)

  # Keys and values stay sub-binaries of the frame: no copy, no allocation
  # per value. (A caller keeping a few values of a large scan for long can
  # :binary.copy/1 them, so they do not hold their frames in memory.)
  defp unpack(<<kl::32, k::binary-size(kl), vl::32, v::binary-size(vl), rest::binary>>, acc),
    do: unpack(rest, [{k, v} | acc])

  defp unpack(<<>>, acc), do: :lists.reverse(acc)

  # Sends a request whose reply nobody waits for (id 0): closing an
  # iterator. It goes through the engine process, after the requests
  # already waiting there.
  @doc false
  @spec cast(engine(), tuple()) :: :ok | {:error, :engine_down}
  def cast(engine, request) do
    with {:ok, ctx} <- lookup(engine) do
      send(ctx.owner, {:"$spire", 0, nil, :erlang.term_to_binary(request)})
      :ok
    end
  end

  @doc false
  @spec send_request(ctx(), tuple()) :: {:ok, reference()}
  def send_request(ctx, request) do
    ref = :erlang.alias()
    submit(ctx, ref, request)
    {:ok, ref}
  end

  # The engine process writes requests to the port, several in one write
  # when several callers are waiting (see handle_info/2), and sends each
  # reply to the caller's alias. Ids stay below 2^63: the top bit of a
  # reply id is the "more" flag.
  defp submit(ctx, ref, request) do
    id = :erlang.unique_integer([:positive]) &&& 0x7FFFFFFFFFFFFFFF
    send(ctx.owner, {:"$spire", id, ref, :erlang.term_to_binary(request)})
  end

  # How long a caller waits before it starts watching the engine process.
  # Monitoring it on every call would cost the engine process two signals
  # per request; a reply almost always comes sooner than this.
  @watch_after 100

  @doc false
  @spec await(ctx(), reference(), timeout()) ::
          {:ok, binary()} | {:error, :engine_down | :timeout}
  def await(ctx, ref, timeout) do
    receive do
      {^ref, body} when is_binary(body) -> {:ok, body}
      {^ref, :engine_down} -> {:error, :engine_down}
    after
      min(timeout, @watch_after) ->
        if timeout == :infinity or timeout > @watch_after,
          do: await_watching(ctx, ref, sub(timeout, @watch_after)),
          else: {:error, :timeout}
    end
  end

  defp sub(:infinity, _), do: :infinity
  defp sub(t, d), do: t - d

  # The engine tells its callers when the sidecar goes down; a monitor
  # covers the engine process itself dying (a monitor on a process that
  # is already gone fires at once).
  defp await_watching(ctx, ref, timeout) do
    mref = Process.monitor(ctx.owner)

    receive do
      {^ref, body} when is_binary(body) -> {:ok, body}
      {^ref, :engine_down} -> {:error, :engine_down}
      {:DOWN, ^mref, _, _, _} -> {:error, :engine_down}
    after
      timeout -> {:error, :timeout}
    end
    |> tap(fn _ -> Process.demonitor(mref, [:flush]) end)
  end

  # Forgets a request: the alias stops accepting replies (the engine drops
  # its entry when the last one comes) and one already delivered is flushed.
  @doc false
  @spec finish(reference(), result) :: result when result: term()
  def finish(ref, result) do
    :erlang.unalias(ref)
    flush_replies(ref)
    result
  end

  defp flush_replies(ref) do
    receive do
      {^ref, _} -> flush_replies(ref)
    after
      0 -> :ok
    end
  end

  @doc false
  @spec decode(binary()) :: term()
  def decode(body) do
    case :erlang.binary_to_term(body, [:safe]) do
      :ok -> :ok
      {:ok, _} = ok -> ok
      {:error, _} = error -> error
      other -> other
    end
  end

  @doc false
  @spec watch(engine(), :cursor | :snapshot, pos_integer()) :: :ok | {:error, :engine_down}
  def watch(engine, kind, id) do
    with {:ok, ctx} <- lookup(engine), do: GenServer.cast(ctx.owner, {:watch, self(), kind, id})
  end

  @doc false
  @spec unwatch(engine(), :cursor | :snapshot, pos_integer()) :: :ok | {:error, :engine_down}
  def unwatch(engine, kind, id) do
    with {:ok, ctx} <- lookup(engine), do: GenServer.cast(ctx.owner, {:unwatch, kind, id})
  end

  ## The owning process

  @impl true
  def init(opts) do
    # terminate/2 must run on the supervisor's shutdown to close RocksDB.
    Process.flag(:trap_exit, true)
    binary = Options.binary(opts)

    if File.regular?(binary) do
      deadline = System.monotonic_time(:millisecond) + opts[:lock_timeout]
      open(binary, opts, deadline)
    else
      fail({:binary_not_found, binary})
    end
  end

  # A LOCK held by a sidecar that is still closing (its engine process died
  # and its port closed a moment ago) is waited for, up to :lock_timeout,
  # so a restart does not crash-loop against its predecessor. A LOCK that
  # cannot be opened at all (permissions) will not get better: fail now.
  defp open(binary, opts, deadline) do
    case spawn_sidecar(binary, opts) do
      {:error, {:open_failed, msg}} = error ->
        if lock_busy?(msg) and System.monotonic_time(:millisecond) < deadline do
          Process.sleep(50)
          open(binary, opts, deadline)
        else
          fail(elem(error, 1))
        end

      {:error, reason} ->
        fail(reason)

      {:ok, state} ->
        {:ok, state}
    end
  end

  # RocksDB's words for a LOCK another process (or this one) holds: flock's
  # EWOULDBLOCK, or its own table of locks. Anything else (permissions, a
  # read-only file system, a LOCK that is not a file) fails at once.
  defp lock_busy?(msg),
    do:
      msg =~ "LOCK" and
        (msg =~ "temporarily unavailable" or msg =~ "lock hold by current process")

  defp spawn_sidecar(binary, opts) do
    port =
      Port.open({:spawn_executable, binary}, [
        :binary,
        {:packet, 4},
        :exit_status,
        :use_stdio,
        # The engine process writes every request; it must never be
        # suspended on a busy port while replies wait to be routed. What
        # the port queues is bounded by the callers' requests in flight.
        {:busy_limits_port, :disabled},
        args: Options.args(opts),
        env: Options.env(opts)
      ])

    await_ready(port, opts)
  end

  defp await_ready(port, opts) do
    receive do
      {^port, {:data, <<0::64, body::binary>>}} ->
        case decode(body) do
          {:log, line} ->
            Logger.info(line)
            await_ready(port, opts)

          {:ready, info} ->
            ctx = %{
              port: port,
              owner: self(),
              timeout: opts[:timeout],
              cache: ReadCache.new(opts[:read_cache_size])
            }

            :persistent_term.put({__MODULE__, self()}, ctx)
            {:os_pid, os_pid} = Port.info(port, :os_pid)
            emit([:start], %{}, %{path: opts[:path], os_pid: os_pid, version: info[:version]})
            {:ok, Map.merge(ctx, %{opts: opts, os_pid: os_pid, watches: %{}, by_id: %{}})}

          {:error, reason} ->
            await_exit(port, 5_000)
            {:error, reason}
        end

      {^port, {:exit_status, status}} ->
        {:error, {:exit_status, status}}
    after
      30_000 ->
        Port.close(port)
        {:error, :ready_timeout}
    end
  end

  # Returning {:stop, reason} from init would send an exit signal with that
  # reason to the process that called start_link, killing it unless it
  # traps exits. OTP 25 has no init return that fails quietly, so ack the
  # error to start_link and exit normally, which links ignore.
  defp fail(reason) do
    :proc_lib.init_ack({:error, reason})
    exit(:normal)
  end

  @impl true
  def handle_info({:"$spire", id, ref, term}, state) do
    # Id 0 (cast/2) is never registered: its reply is dropped.
    if id != 0, do: Process.put(id, ref)
    drain(state.port, [[<<byte_size(term) + 8::32, id::64>> | term]], 1)
    {:noreply, state}
  end

  def handle_info({port, {:data, <<0::64, body::binary>>}}, %{port: port} = state) do
    # Id 0 carries log lines, and the replies to fire-and-forget requests
    # (closing a dead caller's cursor, {close}), which nobody waits for.
    case decode(body) do
      {:log, line} ->
        Logger.info(line, spire_port: state.os_pid)

      {:backup_progress, %{dir: dir, bytes: bytes}} ->
        emit([:backup, :progress], %{bytes: bytes}, %{dir: dir, path: state.opts[:path]})

      _reply ->
        :ok
    end

    {:noreply, state}
  end

  # Several replies ready at once arrive as one batch frame: a run of
  # <<length::32, id::64, term>> entries behind the id 2^64-1.
  def handle_info({port, {:data, <<@batch_id::64, entries::binary>>}}, %{port: port} = state) do
    route_batch(entries)
    {:noreply, state}
  end

  def handle_info({port, {:data, <<more::1, id::63, body::binary>>}}, %{port: port} = state) do
    route(more, id, body)
    {:noreply, state}
  end

  def handle_info({port, {:exit_status, status}}, %{port: port} = state) do
    Logger.error("spire-port (os pid #{state.os_pid}) exited with status #{status}")
    emit([:down], %{}, %{path: state.opts[:path], status: status})
    {:stop, {:engine_exit, status}, %{state | port: nil}}
  end

  def handle_info({:DOWN, mref, :process, _pid, _}, state) do
    case Map.pop(state.watches, mref) do
      {nil, _} ->
        {:noreply, state}

      {{kind, id}, watches} ->
        fire_and_forget(
          state,
          if(kind == :cursor, do: {:iter_close, id}, else: {:snapshot_close, id})
        )

        {:noreply, %{state | watches: watches, by_id: Map.delete(state.by_id, {kind, id})}}
    end
  end

  # A write to a sidecar that just died can close the port (epipe) before
  # its exit status arrives; either way the engine is down.
  def handle_info({:EXIT, port, reason}, %{port: port} = state) do
    Logger.error("spire-port (os pid #{state.os_pid}) port closed: #{inspect(reason)}")
    emit([:down], %{}, %{path: state.opts[:path], status: reason})
    {:stop, {:engine_exit, reason}, %{state | port: nil}}
  end

  def handle_info({:EXIT, _, _}, state), do: {:noreply, state}
  def handle_info(_msg, state), do: {:noreply, state}

  @impl true
  def handle_cast({:watch, pid, kind, id}, state) do
    mref = Process.monitor(pid)

    {:noreply,
     %{
       state
       | watches: Map.put(state.watches, mref, {kind, id}),
         by_id: Map.put(state.by_id, {kind, id}, mref)
     }}
  end

  def handle_cast({:unwatch, kind, id}, state) do
    case Map.pop(state.by_id, {kind, id}) do
      {nil, _} ->
        {:noreply, state}

      {mref, by_id} ->
        Process.demonitor(mref, [:flush])
        {:noreply, %{state | by_id: by_id, watches: Map.delete(state.watches, mref)}}
    end
  end

  defp route_batch(<<len::32, more::1, id::63, rest::binary>>) do
    size = len - 8
    <<body::binary-size(size), rest::binary>> = rest
    route(more, id, body)
    route_batch(rest)
  end

  defp route_batch(<<>>), do: :ok

  # The pending requests live in the process dictionary, id => alias: the
  # cheapest table this process can keep. The last (or only) reply of a
  # request takes its entry out, so a caller that gave up or died leaves
  # nothing behind (its alias is inactive and drops the reply); frames
  # flagged "more" (a scan's batches but the last) leave it in place.
  defp route(more, id, body) do
    case if(more == 0, do: Process.delete(id), else: Process.get(id)) do
      nil -> :ok
      ref -> send(ref, {ref, body})
    end
  end

  # Requests waiting in the mailbox go to the port together: one write and
  # one batch frame (<<length::32, id::64, term>> entries behind the id
  # 2^64-1, the mirror of a batch reply) instead of one of each per caller.
  defp drain(port, acc, n) when n < @max_batch do
    receive do
      {:"$spire", id, ref, term} ->
        if id != 0, do: Process.put(id, ref)
        drain(port, [[<<byte_size(term) + 8::32, id::64>> | term] | acc], n + 1)
    after
      0 -> write_requests(port, acc)
    end
  end

  defp drain(port, acc, _n), do: write_requests(port, acc)

  defp write_requests(port, [[<<_::32, frame::binary>> | term]]),
    do: command(port, [frame | term])

  defp write_requests(port, entries),
    do: command(port, [<<@batch_id::64>> | :lists.reverse(entries)])

  # A port that just closed raises; its exit message follows and stops the
  # engine, which then answers every pending caller.
  defp command(port, iodata) do
    Port.command(port, iodata)
  rescue
    ArgumentError -> false
  end

  defp fire_and_forget(%{port: port}, request) when port != nil do
    # Id 0 is never registered, so the reply is dropped.
    Port.command(port, [<<0::64>> | :erlang.term_to_binary(request)])
  rescue
    ArgumentError -> :ok
  end

  defp fire_and_forget(_, _), do: :ok

  @impl true
  def terminate(_reason, state) do
    :persistent_term.erase({__MODULE__, self()})
    answer_pending()

    if state.port do
      # {:close} makes the sidecar finish what is in flight, close RocksDB
      # (releasing its LOCK) and exit; waiting for the exit status means a
      # restarted engine never meets a stale LOCK.
      fire_and_forget(state, {:close})

      unless await_exit(state.port, 25_000) do
        Logger.error("spire-port (os pid #{state.os_pid}) did not exit in 25 s; killing it")
        System.cmd("kill", ["-KILL", Integer.to_string(state.os_pid)])
      end
    end

    :ok
  end

  # Every caller still waiting, registered or with its request still in the
  # mailbox, learns at once that the engine is going away.
  defp answer_pending do
    for {id, ref} when is_integer(id) <- Process.get() do
      Process.delete(id)
      send(ref, {ref, :engine_down})
    end

    answer_mailbox()
  end

  defp answer_mailbox do
    receive do
      {:"$spire", _id, nil, _term} ->
        answer_mailbox()

      {:"$spire", _id, ref, _term} ->
        send(ref, {ref, :engine_down})
        answer_mailbox()
    after
      0 -> :ok
    end
  end

  defp await_exit(port, timeout) do
    receive do
      {^port, {:exit_status, _}} -> true
    after
      timeout -> false
    end
  end

  defp emit(event, measurements, metadata) do
    if @telemetry? do
      # credo:disable-for-next-line
      apply(:telemetry, :execute, [[:store, :kv, :engine | event], measurements, metadata])
    end

    :ok
  end
end
