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
  front of it, to its caller; the caller decodes it. The engine
  process never encodes or decodes a term, and the sidecar serves the gets
  (or the puts) that arrive together with one RocksDB call.

  ## Options

    * `:path` (required) - the data root: RocksDB lives in `<path>/data`,
      checkpoints in `<path>/checkpoints`.
    * `:data_dir` - RocksDB's own directory instead of `<path>/data` (to
      open a database where the NIF kept it).
    * `:read_only` - open the database read-only (`false`): it must exist,
      its LOCK is not taken (another engine or process may go on writing
      it), it is seen as it was at start, and writes, flushes and
      compactions answer `{:error, {:rocksdb, msg}}`.
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
    * `:idle_timeout` - ms before the sidecar closes an unused cursor,
      snapshot or transaction (300000); `:infinity` never does.
    * `:max_handles` - the most cursors, and the most snapshots, the
      sidecar keeps open at once (1024 of each).
    * `:max_frame` - the largest request in bytes (64 MiB).
    * `:lock_timeout` - how long to wait for a LOCK still held by a
      closing sidecar on the same path before failing (5000 ms).
    * `:spin` - µs the sidecar keeps polling its stdin after a reply
      before it sleeps (50; 0 sleeps at once). A request that finds it
      polling skips the wake-up of a sleeping thread, tens of µs on a
      virtual machine; polling costs up to this much CPU per request burst.
    * `:busy_spin` - the same after a burst of several requests, when
      several callers wait (the sidecar's `--busy-spin`; as `:spin` unless
      set, at most `:spin`): shorter saves sidecar CPU per request under
      load at some cost in throughput.
    * `:reply_socket` - the engine listens on a Unix socket (in a fresh
      directory only this OS user can enter, unlinked once the sidecar
      connects) and asks for a lone caller's small replies there (gets,
      puts, deletes, short iterator moves), polling for them instead of
      waiting for the BEAM's poll thread. `false` by default: on a 2-vCPU
      host the polling competes with the sidecar for the CPU, and a lone
      get took longer with it than on the port (docs/performance.md).
    * `:reply_spin` - µs the engine process polls the reply socket after
      writing such a request, while no other process wants to run (50,
      as the sidecar's `:spin`: long enough for a seek that reads a block;
      0..10000; 0 arms a select at once).
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

  alias Store.KV.Engine.{Caller, Options, ReadCache}

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
          | {:merge, key(), value()}
          | {:merge, String.t(), key(), value()}
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

  @doc false
  @spec __reply_atoms__() :: [atom()]
  def __reply_atoms__, do: Store.KV.Engine.Wire.reply_atoms()

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
      nil -> GenServer.start_link(Store.KV.Engine.Server, opts)
      name -> GenServer.start_link(Store.KV.Engine.Server, opts, name: name)
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
    case Caller.ctx(engine) do
      %{cache: nil} = ctx -> Caller.get_ctx(ctx, key)
      nil -> {:error, :engine_down}
      ctx -> ReadCache.get(ctx.cache, key, fn -> Caller.get_ctx(ctx, key) end)
    end
  end

  def get(engine, key, opts) when is_binary(key) do
    with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf, :snapshot]) do
      Caller.call(engine, {:get, key, wire}, timeout)
    end
  end

  def get(_engine, key, _opts), do: Caller.badarg("key must be a binary, got: #{inspect(key)}")

  @doc """
  Reads many keys at once; each result is the value or `:not_found`, in
  the order of `keys`. Options as for `get/3`.
  """
  @spec multi_get(engine(), [key()], [read_opt()]) ::
          {:ok, [value() | :not_found]} | {:error, reason()}
  def multi_get(engine, keys, opts \\ []) do
    if is_list(keys) and Enum.all?(keys, &is_binary/1) do
      with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf, :snapshot]) do
        Caller.call(engine, {:multi_get, keys, wire}, timeout)
      end
    else
      Caller.badarg("keys must be a list of binaries, got: #{inspect(keys, limit: 5)}")
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
    with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf, :sync, :disable_wal]) do
      Caller.write(engine, {:put, key, value, wire}, timeout, &ReadCache.written(&1, key))
    end
  end

  def put(_engine, key, value, _opts),
    do:
      Caller.badarg(
        "key and value must be binaries, got: #{inspect(key)}, #{inspect(value, limit: 5)}"
      )

  @doc "Deletes `key`; deleting a missing key is `:ok`. Options as for `put/4`."
  @spec delete(engine(), key(), [write_opt()]) :: :ok | {:error, reason()}
  def delete(engine, key, opts \\ [])

  def delete(engine, key, opts) when is_binary(key) do
    with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf, :sync, :disable_wal]) do
      Caller.write(engine, {:delete, key, wire}, timeout, &ReadCache.written(&1, key))
    end
  end

  def delete(_engine, key, _opts), do: Caller.badarg("key must be a binary, got: #{inspect(key)}")

  @doc """
  Hands `operand` to the merge operator the engine was started with
  (`merge_operator:` `"erlang"`, `"counter"` or `"bitset"`) for `key`: a
  later read sees what the operator makes of the key's value and every
  operand merged since. Without a merge operator it is
  `{:error, {:badarg, _}}`. Options as for `put/4`.
  """
  @spec merge(engine(), key(), value(), [write_opt()]) :: :ok | {:error, reason()}
  def merge(engine, key, operand, opts \\ [])

  def merge(engine, key, operand, opts) when is_binary(key) and is_binary(operand) do
    with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf, :sync, :disable_wal]) do
      Caller.write(engine, {:merge, key, operand, wire}, timeout, &ReadCache.written(&1, key))
    end
  end

  def merge(_engine, key, operand, _opts),
    do:
      Caller.badarg("key and operand must be binaries, got: #{inspect({key, operand}, limit: 5)}")

  @doc """
  Deletes every key in `[start_key, end_key)` of one column family.
  Options as for `put/4`.
  """
  @spec delete_range(engine(), key(), key(), [write_opt()]) :: :ok | {:error, reason()}
  def delete_range(engine, start_key, end_key, opts \\ [])

  def delete_range(engine, start_key, end_key, opts)
      when is_binary(start_key) and is_binary(end_key) and end_key != "" do
    with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf, :sync, :disable_wal]) do
      Caller.write(
        engine,
        {:delete_range, start_key, end_key, wire},
        timeout,
        &ReadCache.written_all/1
      )
    end
  end

  def delete_range(_engine, s, e, _opts),
    do:
      Caller.badarg(
        "start and end must be binaries, end non-empty, got: #{inspect(s)}, #{inspect(e)}"
      )

  @doc """
  Applies puts, deletes and merges atomically: all of them or none, also
  across column families (`{:put, cf, k, v}`, `{:delete, cf, k}`).
  Options: `:sync`, `:timeout`.

      :ok = Store.KV.Engine.write_batch(engine, [{:put, "a", "1"}, {:delete, "b"}])
  """
  @spec write_batch(engine(), [batch_op()], [{:sync, boolean()} | {:timeout, timeout()}]) ::
          :ok | {:error, reason()}
  def write_batch(engine, ops, opts \\ []) do
    case Store.KV.Engine.Batch.check(ops) do
      :ok ->
        with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:sync, :disable_wal]) do
          Caller.write(engine, {:write_batch, ops, wire}, timeout, &Caller.batch_written(&1, ops))
        end

      error ->
        error
    end
  end

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
    with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf, :snapshot, :batch_size, :limit]) do
      # Packed rows: each frame's rows come as one binary, split here into
      # sub-binaries of the frame (see decode_frames/1).
      Caller.stream_call(engine, {:scan, start_key, end_key, [{:packed, true} | wire]}, timeout)
    end
  end

  def scan_range(_engine, s, e, _opts),
    do: Caller.badarg("start and end keys must be binaries, got: #{inspect(s)}, #{inspect(e)}")

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
    with {:ok, id} <- Caller.call(engine, {:snapshot_open}, nil) do
      Caller.watch(engine, :snapshot, id)
      {:ok, {:snapshot, id}}
    end
  end

  @doc "Releases a snapshot."
  @spec release_snapshot(engine(), snapshot()) :: :ok | {:error, reason()}
  def release_snapshot(engine, {:snapshot, id}) do
    Caller.unwatch(engine, :snapshot, id)
    Caller.call(engine, {:snapshot_close, id}, nil)
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
  def get_stats(engine), do: Caller.call(engine, {:stats}, nil)

  @doc "The block cache: `{:ok, %{capacity:, usage:, pinned_usage:, strict_capacity:}}`."
  @spec get_cache_info(engine()) :: {:ok, map()} | {:error, reason()}
  def get_cache_info(engine), do: Caller.call(engine, {:cache_info}, nil)

  @doc """
  Any RocksDB property, e.g. `"rocksdb.stats"` or
  `"rocksdb.num-files-at-level0"`, as a string. Options: `:cf`.
  """
  @spec get_property(engine(), String.t(), [{:cf, String.t()}]) ::
          {:ok, String.t()} | {:error, reason()}
  def get_property(engine, name, opts \\ []) when is_binary(name) do
    with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf]) do
      Caller.call(engine, {:property, name, wire}, timeout)
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
    with {:ok, ctx} <- Caller.lookup(engine), do: {:ok, ReadCache.stats(ctx.cache)}
  end

  @doc "Sends a request through the whole path but RocksDB: the floor of every latency."
  @spec ping(engine()) :: :ok | {:error, reason()}
  def ping(engine), do: Caller.call(engine, {:ping}, nil)

  ## Operations

  @doc "Flushes a column family's memtables to SST files and waits. Options: `:cf`, `:timeout`."
  @spec flush(engine(), [{:cf, String.t()} | {:timeout, timeout()}]) :: :ok | {:error, reason()}
  def flush(engine, opts \\ []) do
    with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf]) do
      Caller.call(engine, {:flush, wire}, timeout || 60_000)
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
    with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf]) do
      Caller.call(engine, {:compact_range, start_key, end_key, wire}, timeout || 600_000)
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
  def checkpoint(engine, dir) when is_binary(dir),
    do: Caller.call(engine, {:checkpoint, dir}, 600_000)

  ## Backups

  @doc """
  Adds an incremental backup of the database to `backup_dir` (under a
  checkpoint root, as for `checkpoint/2`; created if missing) with
  RocksDB's BackupEngine: SST files already in `backup_dir` are shared, not
  copied again. Reads and writes go on while it runs; the backup holds what
  the database held when it began. Returns `{:ok, %{id: n, timestamp:
  unix_seconds, size: bytes, files: n}}`.

  Options: `flush: true` writes the memtables to SST files first (else the
  WAL is backed up); `rate_limit_bytes_per_sec:` caps the copy (0, none,
  or at least 1 MiB/s);
  `progress_every_bytes:` (64 MiB; at least 64 KiB) how often a progress log line and a
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
  def list_column_families(engine), do: Caller.call(engine, {:cf_list}, nil)

  @doc "Creates a column family."
  @spec create_column_family(engine(), String.t()) :: :ok | {:error, reason()}
  def create_column_family(engine, name) when is_binary(name),
    do: Caller.call(engine, {:cf_create, name}, nil)

  @doc "Drops a column family and its data."
  @spec drop_column_family(engine(), String.t()) :: :ok | {:error, reason()}
  def drop_column_family(engine, name) when is_binary(name),
    do: Caller.call(engine, {:cf_drop, name}, nil)

  @doc "The OS pid of the sidecar (for operators and tests)."
  @spec os_pid(engine()) :: {:ok, non_neg_integer()} | {:error, :engine_down}
  def os_pid(engine) do
    with {:ok, ctx} <- Caller.lookup(engine) do
      case Port.info(ctx.port, :os_pid) do
        {:os_pid, pid} -> {:ok, pid}
        nil -> {:error, :engine_down}
      end
    end
  end
end
