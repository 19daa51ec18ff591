defmodule Store.KV.RocksDB do
  @moduledoc """
  erlang-rocksdb's API (the `:rocksdb` module of hex package `rocksdb`
  1.9) over the spire-port sidecar: the same function names, arities,
  argument shapes and results, so code written against the NIF runs
  unchanged. The `:rocksdb` application in `elixir/rocksdb/` is a module
  `:rocksdb` that delegates here; depend on it instead of the NIF.

      {:ok, db, [default, users]} =
        Store.KV.RocksDB.open_with_cf(~c"/var/lib/app/db", [create_if_missing: true],
          [{~c"default", []}, {~c"users", []}])
      :ok = Store.KV.RocksDB.put(db, users, "u:1", "alice", [])
      {:ok, "alice"} = Store.KV.RocksDB.get(db, users, "u:1", [])
      {:ok, itr} = Store.KV.RocksDB.iterator(db, users, [])
      {:ok, "u:1", "alice"} = Store.KV.RocksDB.iterator_move(itr, {:seek, "u:"})
      {:error, :invalid_iterator} = Store.KV.RocksDB.iterator_move(itr, :next)
      :ok = Store.KV.RocksDB.iterator_close(itr)

  ## Handles

  A database handle names its engine, a column family handle its engine
  and family, so both stay valid across a sidecar restart and can be kept
  in `:persistent_term`. An iterator is a reference (`is_reference/1`,
  `==`). A handle that is not one (`nil`, a closed database, another
  module's term) raises `ArgumentError`, as the NIF raises `badarg`.

  ## Where it differs from the NIF

    * `open/2,3` starts a `Store.KV.Engine` (a sidecar) under spire_port's
      supervision, with RocksDB in exactly the path given. It is closed by
      `close/1`, or when the process that opened it exits: the NIF closes a
      database once nothing references its handle, which the BEAM cannot
      observe for a plain term. Iterators likewise close when the process
      that made them exits, if not before.
    * Iterators read ahead: a positioning move (`first`, `last`, `seek`,
      `seek_for_prev`) brings back rows ahead, and `next`/`prev` are local
      until they run out. The rows come from one RocksDB iterator, so they
      are what the NIF would return.
    * When the sidecar restarts, iterators, snapshots and batches in flight
      do not survive with their view: an iterator is made again (it then
      sees the database as it is, and goes on from the key it was on);
      a snapshot handle answers errors. While the sidecar is down calls
      return `{:error, :engine_down}`, and `{:error, :timeout}` when a
      call's timeout passes (5 s, the engine's `:timeout`); functions whose
      NIF spec has no error tuple (`batch_put/3`, ...) need no sidecar.
    * Options the sidecar does not apply are logged once, by name, at
      open, and never fail the open (docs/spiredb.md lists them).
    * `checkpoint/2` and the backup functions may write anywhere the BEAM's
      user may, as the NIF's, for databases opened with `open/2,3`; on a
      handle from `Store.KV.Engine.get_db_ref/1` the engine's checkpoint
      roots apply.
  """

  require Logger

  alias Store.KV.Engine
  alias Store.KV.Engine.Tool
  alias Store.KV.RocksDB.{Args, Iterator, Options, Registry}

  @db :spire_rocksdb_db
  @cf :spire_rocksdb_cf
  @snap :spire_rocksdb_snapshot
  @backup :spire_rocksdb_backup_engine

  @typedoc "A database handle."
  @type db_handle :: {:spire_rocksdb_db, atom()}
  @typedoc "A column family handle, or the default family."
  @type cf_handle :: {:spire_rocksdb_cf, atom(), String.t()} | :default_column_family
  @typedoc "An iterator handle."
  @type itr_handle :: reference()
  @typedoc "A snapshot handle."
  @type snapshot_handle :: {:spire_rocksdb_snapshot, atom(), pos_integer()}
  @typedoc "A batch handle."
  @type batch_handle :: reference()
  @typedoc "A cache, rate limiter or statistics handle."
  @type object_handle :: reference()
  @typedoc "A file name, as the NIF takes it."
  @type path :: charlist() | binary()

  ## Opening and closing

  @doc "Opens (with `create_if_missing: true`, creates) the database in exactly `path`."
  @spec open(path(), list()) :: {:ok, db_handle()} | {:error, term()}
  def open(path, opts) do
    with {:ok, db, _} <- open_db(path, opts, []), do: {:ok, db}
  end

  @doc "Opens the database with column families `[{name, cf_opts}]`; their handles come in order."
  @spec open(path(), list(), [{path(), list()}]) ::
          {:ok, db_handle(), [cf_handle()]} | {:error, term()}
  def open(path, opts, cf_descriptors), do: open_db(path, opts, cf_descriptors)

  @doc "The same as `open/3`."
  @spec open_with_cf(path(), list(), [{path(), list()}]) ::
          {:ok, db_handle(), [cf_handle()]} | {:error, term()}
  def open_with_cf(path, opts, cf_descriptors), do: open_db(path, opts, cf_descriptors)

  @doc """
  Opens the database in `path` read-only (RocksDB's OpenForReadOnly): it
  must exist; its LOCK is not taken, so it may be open for writing
  elsewhere (in this BEAM too); it is seen as it was at open; writes
  answer `{:error, _}`. Each call starts an engine of its own.
  """
  @spec open_readonly(path(), list()) :: {:ok, db_handle()} | {:error, term()}
  def open_readonly(path, opts) do
    with {:ok, db, _} <- open_db(path, opts, [], true), do: {:ok, db}
  end

  @doc "As `open_readonly/2`, with column families (which must exist)."
  @spec open_readonly(path(), list(), [{path(), list()}]) ::
          {:ok, db_handle(), [cf_handle()]} | {:error, term()}
  def open_readonly(path, opts, cf_descriptors), do: open_db(path, opts, cf_descriptors, true)

  @doc "The same as `open_readonly/3`."
  @spec open_with_cf_readonly(path(), list(), [{path(), list()}]) ::
          {:ok, db_handle(), [cf_handle()]} | {:error, term()}
  def open_with_cf_readonly(path, opts, cf_descriptors),
    do: open_db(path, opts, cf_descriptors, true)

  defp open_db(path, opts, cfds, read_only? \\ false)

  defp open_db(path, opts, cfds, read_only?) when is_list(opts) and is_list(cfds) do
    abs = Args.expand!(path)
    families = for cfd <- Args.opts!(cfds), do: family_of(cfd)
    {engine_opts, create?, skipped} = Options.map(Args.opts!(opts))

    cond do
      # Path.expand("") is the working directory, not a database.
      abs == nil ->
        {:error, {:db_open, ~c"Invalid argument: an empty path"}}

      not read_only? and alive?(engine_name(abs)) ->
        {:error, {:db_open, ~c"IO error: lock hold by current process: #{abs}/LOCK"}}

      (read_only? or not create?) and not File.exists?(Path.join(abs, "CURRENT")) ->
        {:error,
         {:db_open, ~c"Invalid argument: #{abs}: does not exist (create_if_missing is false)"}}

      true ->
        if skipped != [],
          do: Logger.warning("rocksdb open #{abs}: options not applied: #{inspect(skipped)}")

        if read_only?,
          do: start_read_only(abs, families, engine_opts, 1),
          else: start_read_write(abs, families, engine_opts)
    end
  end

  defp open_db(_path, _opts, _cfds, _read_only?), do: :erlang.error(:badarg)

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
        column_families: Enum.reject(families, &(&1 == "default"))
      ] ++ engine_opts

    spec = Supervisor.child_spec({Engine, opts}, id: name)

    case DynamicSupervisor.start_child(Store.KV.RocksDB.Engines, spec) do
      {:ok, _pid} ->
        :ets.insert(Registry.dbs(), {name, abs, self()})
        Registry.watch_db(self(), name)
        db = {@db, name}
        {:ok, db, Enum.map(families, &cf(name, &1))}

      {:error, {:already_started, _}} ->
        :taken

      {:error, {kind, msg}} when kind in [:open_failed, :bad_config] ->
        {:error, {:db_open, String.to_charlist(msg)}}

      {:error, reason} ->
        {:error, {:db_open, ~c"#{inspect(reason)}"}}
    end
  end

  defp cf(_name, "default"), do: :default_column_family
  defp cf(name, family), do: {@cf, name, family}

  # One engine per path; the name is an atom so that a call finds the
  # engine as cheaply as Store.KV.Engine's own default name.
  defp engine_name(abs), do: :"spire_rocksdb_#{:erlang.phash2(abs, 4_294_967_296)}"

  defp alive?(name), do: is_pid(Process.whereis(name))

  @doc "Closes a database opened with `open/2,3` (and its iterators); `:ok` also when closed already."
  @spec close(db_handle()) :: :ok
  def close(db), do: db |> engine!() |> close_name()

  @doc false
  @spec close_name(atom()) :: :ok
  def close_name(name) do
    case :ets.lookup(Registry.dbs(), name) do
      [{^name, _abs, opener}] when is_pid(opener) ->
        Iterator.close_all(name)
        :ets.delete(Registry.dbs(), name)
        Registry.unwatch({:db, name})

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
  @spec db_handle(atom()) :: db_handle()
  def db_handle(name) when is_atom(name) do
    :ets.insert_new(Registry.dbs(), {name, nil, nil})
    {@db, name}
  end

  @doc "The handle of column family `family` of a database."
  @spec cf_handle(db_handle(), String.t()) :: cf_handle()
  def cf_handle(db, family) when is_binary(family), do: cf(engine!(db), family)

  @doc "Handles of every column family of a database, by name."
  @spec column_families(db_handle()) :: {:ok, %{String.t() => cf_handle()}} | {:error, term()}
  def column_families(db) do
    name = engine!(db)

    with {:ok, names} <- checked(name, Engine.list_column_families(name)) do
      {:ok, Map.new(names, &{&1, cf(name, &1)})}
    end
  end

  @doc "Lists the column families of the database in `path` (charlists), open or not."
  @spec list_column_families(path(), list()) :: {:ok, [charlist()]} | {:error, term()}
  def list_column_families(path, opts) do
    Args.opts!(opts)

    case Args.expand!(path) do
      nil -> {:error, {:db_open, ~c"Invalid argument: an empty path"}}
      abs -> list_families(abs)
    end
  end

  # Names are the bytes RocksDB keeps, one character a byte, as the NIF
  # lists them: a name that is not UTF-8 lists as well as any other.
  defp list_families(abs) do
    name = engine_name(abs)

    if alive?(name) do
      with {:ok, names} <- Engine.list_column_families(name),
           do: {:ok, Enum.map(names, &:erlang.binary_to_list/1)}
    else
      case Tool.run(["--path", abs, "--data-dir", abs, "--list-column-families"]) do
        {:ok, names} -> {:ok, Enum.map(names, &:erlang.binary_to_list/1)}
        {:error, msg} when is_binary(msg) -> {:error, {:db_open, String.to_charlist(msg)}}
        {:error, _} = error -> error
      end
    end
  end

  @doc "Creates a column family; returns its handle."
  @spec create_column_family(db_handle(), path(), list()) :: {:ok, cf_handle()} | {:error, term()}
  def create_column_family(db, family, cf_opts) do
    name = engine!(db)
    family = Args.cf_name!(family)
    Args.opts!(cf_opts)

    with :ok <- checked(name, Engine.create_column_family(name, family)),
         do: {:ok, cf(name, family)}
  end

  @doc "Drops a column family and its data."
  @spec drop_column_family(db_handle(), cf_handle()) :: :ok | {:error, term()}
  def drop_column_family(db, cf) do
    name = engine!(db)
    checked(name, Engine.drop_column_family(name, family!(name, cf)))
  end

  ## Handles

  defp engine!({@db, name}) when is_atom(name), do: name
  defp engine!(_), do: :erlang.error(:badarg)

  defp family!(_name, :default_column_family), do: "default"
  defp family!(name, {@cf, name, family}), do: family
  defp family!(_name, _), do: :erlang.error(:badarg)

  # A call that found no engine: a database that is not open (closed, or
  # never opened) is a bad handle; one whose sidecar is restarting answers
  # the error.
  defp checked(name, {:error, :engine_down} = error) do
    if :ets.member(Registry.dbs(), name), do: error, else: :erlang.error(:badarg)
  end

  defp checked(_name, result), do: result

  defp key!(k) when is_binary(k), do: k
  defp key!(_), do: :erlang.error(:badarg)

  defp read_opts(name, opts, cf) do
    base = if cf, do: [cf: cf], else: []

    Enum.reduce(Args.opts!(opts), base, fn
      {:snapshot, {@snap, ^name, id}}, acc -> [{:snapshot, {:snapshot, id}} | acc]
      {:snapshot, _}, _acc -> :erlang.error(:badarg)
      _, acc -> acc
    end)
  end

  defp write_opts(opts, cf) do
    sync = if :proplists.get_value(:sync, Args.opts!(opts)) == true, do: [sync: true], else: []
    if cf, do: [{:cf, cf} | sync], else: sync
  end

  defp cf_opt(_name, :default_column_family), do: nil
  defp cf_opt(name, cf), do: family!(name, cf)

  ## Key/value

  @doc "Reads `key` from the default column family: `{:ok, value}` or `:not_found`."
  @spec get(db_handle(), binary(), list()) :: {:ok, binary()} | :not_found | {:error, term()}
  def get({@db, name}, key, []) when is_atom(name) and is_binary(key) do
    case Engine.get(name, key) do
      {:error, :not_found} -> :not_found
      {:error, :engine_down} = error -> checked(name, error)
      result -> result
    end
  end

  def get(db, key, opts), do: do_get(engine!(db), nil, key!(key), opts)

  @doc "Reads `key` from a column family."
  @spec get(db_handle(), cf_handle(), binary(), list()) ::
          {:ok, binary()} | :not_found | {:error, term()}
  def get(db, cf, key, opts) do
    name = engine!(db)
    do_get(name, cf_opt(name, cf), key!(key), opts)
  end

  defp do_get(name, cf, key, opts) do
    case Engine.get(name, key, read_opts(name, opts, cf)) do
      {:error, :not_found} -> :not_found
      result -> checked(name, result)
    end
  end

  @doc "Writes `key` in the default column family (`[sync: true]` to fsync)."
  @spec put(db_handle(), binary(), binary(), list()) :: :ok | {:error, term()}
  def put({@db, name}, key, value, []) when is_atom(name) and is_binary(key) and is_binary(value),
    do: checked(name, Engine.put(name, key, value))

  def put(db, key, value, opts), do: do_put(engine!(db), nil, key, value, opts)

  @doc "Writes `key` in a column family."
  @spec put(db_handle(), cf_handle(), binary(), binary(), list()) :: :ok | {:error, term()}
  def put(db, cf, key, value, opts) do
    name = engine!(db)
    do_put(name, cf_opt(name, cf), key, value, opts)
  end

  defp do_put(name, cf, key, value, opts) when is_binary(key) and is_binary(value),
    do: checked(name, Engine.put(name, key, value, write_opts(opts, cf)))

  defp do_put(_, _, _, _, _), do: :erlang.error(:badarg)

  @doc "Deletes `key` from the default column family."
  @spec delete(db_handle(), binary(), list()) :: :ok | {:error, term()}
  def delete(db, key, opts), do: do_delete(engine!(db), nil, key!(key), opts)

  @doc "Deletes `key` from a column family."
  @spec delete(db_handle(), cf_handle(), binary(), list()) :: :ok | {:error, term()}
  def delete(db, cf, key, opts) do
    name = engine!(db)
    do_delete(name, cf_opt(name, cf), key!(key), opts)
  end

  defp do_delete(name, cf, key, opts),
    do: checked(name, Engine.delete(name, key, write_opts(opts, cf)))

  @doc "A delete (RocksDB's SingleDelete contract is the caller's; a Delete honours it)."
  @spec single_delete(db_handle(), binary(), list()) :: :ok | {:error, term()}
  def single_delete(db, key, opts), do: delete(db, key, opts)

  @doc "A delete in a column family."
  @spec single_delete(db_handle(), cf_handle(), binary(), list()) :: :ok | {:error, term()}
  def single_delete(db, cf, key, opts), do: delete(db, cf, key, opts)

  @doc "Deletes `[begin, end)` of the default column family."
  @spec delete_range(db_handle(), binary(), binary(), list()) :: :ok | {:error, term()}
  def delete_range(db, begin_key, end_key, opts) do
    name = engine!(db)

    checked(
      name,
      Engine.delete_range(name, key!(begin_key), key!(end_key), write_opts(opts, nil))
    )
  end

  @doc "Deletes `[begin, end)` of a column family."
  @spec delete_range(db_handle(), cf_handle(), binary(), binary(), list()) ::
          :ok | {:error, term()}
  def delete_range(db, cf, begin_key, end_key, opts) do
    name = engine!(db)
    cf = cf_opt(name, cf)
    checked(name, Engine.delete_range(name, key!(begin_key), key!(end_key), write_opts(opts, cf)))
  end

  @doc "Applies write actions atomically (`{:put, k, v}`, `{:put, cf, k, v}`, `{:delete, ...}`, ...)."
  @spec write(db_handle(), list(), list()) :: :ok | {:error, term()}
  def write(db, actions, opts) when is_list(actions) do
    name = engine!(db)
    checked(name, Engine.write_batch(name, to_ops(name, actions, []), write_opts(opts, nil)))
  end

  def write(_db, _actions, _opts), do: :erlang.error(:badarg)

  defp to_ops(_name, [], acc), do: :lists.reverse(acc)
  defp to_ops(name, [:clear | rest], _acc), do: to_ops(name, rest, [])
  defp to_ops(name, [action | rest], acc), do: to_ops(name, rest, [to_op(name, action) | acc])

  defp to_op(_name, {:put, k, v}) when is_binary(k) and is_binary(v), do: {:put, k, v}

  defp to_op(name, {:put, cf, k, v}) when is_binary(k) and is_binary(v),
    do: put_op(name, cf, k, v)

  defp to_op(_name, {kind, k}) when kind in [:delete, :single_delete] and is_binary(k),
    do: {:delete, k}

  defp to_op(name, {kind, cf, k}) when kind in [:delete, :single_delete] and is_binary(k),
    do: cf_op(name, cf, {:delete, k})

  defp to_op(_name, {:delete_range, s, e}) when is_binary(s) and is_binary(e),
    do: {:delete_range, s, e}

  defp to_op(name, {:delete_range, cf, s, e}) when is_binary(s) and is_binary(e),
    do: cf_op(name, cf, {:delete_range, s, e})

  defp to_op(_name, _), do: :erlang.error(:badarg)

  defp put_op(name, cf, k, v), do: cf_op(name, cf, {:put, k, v})

  defp cf_op(name, cf, op) do
    case cf_opt(name, cf) do
      nil -> op
      family -> op |> Tuple.insert_at(1, family)
    end
  end

  ## Batches

  @doc "A new, empty batch."
  @spec batch() :: {:ok, batch_handle()}
  def batch do
    batch = make_ref()
    :ets.insert(Registry.batches(), {{:live, batch}, true})
    {:ok, batch}
  end

  # A batch made by batch/0 and not released; the NIF raises badarg for any
  # other reference.
  defp batch!(batch) do
    if is_reference(batch) and :ets.member(Registry.batches(), {:live, batch}),
      do: batch,
      else: :erlang.error(:badarg)
  end

  # A column family handle's shape, checked when added to a batch as the
  # NIF checks it; which database it belongs to is known at the write.
  defp cf_shape!(:default_column_family = cf), do: cf
  defp cf_shape!({@cf, name, family} = cf) when is_atom(name) and is_binary(family), do: cf
  defp cf_shape!(_), do: :erlang.error(:badarg)

  @doc "Forgets a batch."
  @spec release_batch(batch_handle()) :: :ok
  def release_batch(batch) when is_reference(batch) do
    clear(batch)
    :ets.delete(Registry.batches(), {:live, batch})
    :ok
  end

  defp clear(batch) do
    :ets.delete(Registry.batches(), batch)
    :ets.delete(Registry.batches(), {:savepoints, batch})
    :ok
  end

  @doc "Adds a put."
  @spec batch_put(batch_handle(), binary(), binary()) :: :ok
  def batch_put(batch, k, v) when is_reference(batch) and is_binary(k) and is_binary(v),
    do: add(batch, {:put, k, v})

  @doc "Adds a put in a column family."
  @spec batch_put(batch_handle(), cf_handle(), binary(), binary()) :: :ok
  def batch_put(batch, cf, k, v) when is_reference(batch) and is_binary(k) and is_binary(v),
    do: add(batch, {:put, cf_shape!(cf), k, v})

  @doc "Adds a delete."
  @spec batch_delete(batch_handle(), binary()) :: :ok
  def batch_delete(batch, k) when is_reference(batch) and is_binary(k),
    do: add(batch, {:delete, k})

  @doc "Adds a delete in a column family."
  @spec batch_delete(batch_handle(), cf_handle(), binary()) :: :ok
  def batch_delete(batch, cf, k) when is_reference(batch) and is_binary(k),
    do: add(batch, {:delete, cf_shape!(cf), k})

  @doc "Adds a delete (see `single_delete/3`)."
  @spec batch_single_delete(batch_handle(), binary()) :: :ok
  def batch_single_delete(batch, k), do: batch_delete(batch, k)

  @doc "Adds a delete in a column family."
  @spec batch_single_delete(batch_handle(), cf_handle(), binary()) :: :ok
  def batch_single_delete(batch, cf, k), do: batch_delete(batch, cf, k)

  @doc "Adds a range delete `[begin, end)`."
  @spec batch_delete_range(batch_handle(), binary(), binary()) :: :ok
  def batch_delete_range(batch, s, e) when is_reference(batch) and is_binary(s) and is_binary(e),
    do: add(batch, {:delete_range, s, e})

  @doc "Adds a range delete in a column family."
  @spec batch_delete_range(batch_handle(), cf_handle(), binary(), binary()) :: :ok
  def batch_delete_range(batch, cf, s, e)
      when is_reference(batch) and is_binary(s) and is_binary(e),
      do: add(batch, {:delete_range, cf_shape!(cf), s, e})

  @doc "Empties a batch."
  @spec batch_clear(batch_handle()) :: :ok
  def batch_clear(batch), do: clear(batch!(batch))

  @doc "The number of operations in a batch."
  @spec batch_count(batch_handle()) :: non_neg_integer()
  def batch_count(batch),
    do: :ets.select_count(Registry.batches(), [{{batch!(batch), :_}, [], [true]}])

  @doc "The operations of a batch, in order."
  @spec batch_tolist(batch_handle()) :: list()
  def batch_tolist(batch),
    do: for({_, op} <- :ets.lookup(Registry.batches(), batch!(batch)), do: op)

  @doc "Marks the batch's current end; `batch_rollback/1` goes back to the latest mark."
  @spec batch_savepoint(batch_handle()) :: :ok
  def batch_savepoint(batch) do
    batch!(batch)
    :ets.insert(Registry.batches(), {{:savepoints, batch}, batch_count(batch)})
    :ok
  end

  @doc """
  Drops the operations added since the latest `batch_savepoint/1`, and
  that mark; `{:error, {:error, ~c"NotFound: "}}` when there is none, as
  RocksDB's status comes back from the NIF.
  """
  @spec batch_rollback(batch_handle()) :: :ok | {:error, term()}
  def batch_rollback(batch) do
    table = Registry.batches()
    batch!(batch)

    case :ets.lookup(table, {:savepoints, batch}) do
      [] ->
        {:error, {:error, ~c"NotFound: "}}

      marks ->
        {earlier, [{_, keep}]} = Enum.split(marks, -1)
        # Marks can be alike (two with nothing added between): put back
        # all but the last rather than delete one by its value.
        :ets.delete(table, {:savepoints, batch})
        :ets.insert(table, earlier)
        ops = batch_tolist(batch)
        :ets.delete(table, batch)
        :ets.insert(table, for(op <- Enum.take(ops, keep), do: {batch, op}))
        :ok
    end
  end

  @doc """
  The bytes of the batch as RocksDB lays it out (its `GetDataSize`): a
  12-byte header and each operation's tag, lengths and bytes (a column
  family's id counted as one byte, as it is for the first 127).
  """
  @spec batch_data_size(batch_handle()) :: non_neg_integer()
  def batch_data_size(batch),
    do: Enum.reduce(batch_tolist(batch), 12, &(&2 + op_size(&1)))

  defp op_size({:put, k, v}), do: 1 + sized(k) + sized(v)
  defp op_size({:put, _cf, k, v}), do: 2 + sized(k) + sized(v)
  defp op_size({:delete, k}), do: 1 + sized(k)
  defp op_size({:delete, _cf, k}), do: 2 + sized(k)
  defp op_size({:delete_range, s, e}), do: 1 + sized(s) + sized(e)
  defp op_size({:delete_range, _cf, s, e}), do: 2 + sized(s) + sized(e)

  # A varint32 length, then the bytes.
  defp sized(b), do: varint_size(byte_size(b)) + byte_size(b)
  defp varint_size(n) when n < 0x80, do: 1
  defp varint_size(n), do: 1 + varint_size(div(n, 0x80))

  defp add(batch, op) do
    :ets.insert(Registry.batches(), {batch!(batch), op})
    :ok
  end

  @doc """
  Writes a batch atomically, then empties it (as the NIF clears its
  WriteBatch after the write, whatever the result): a batch written again
  carries only what was added since.
  """
  @spec write_batch(db_handle(), batch_handle(), list()) :: :ok | {:error, term()}
  def write_batch(db, batch, opts) do
    result = write(db, batch_tolist(batch), opts)
    clear(batch)
    result
  end

  ## Snapshots

  @doc "A consistent view of the whole database."
  @spec snapshot(db_handle()) :: {:ok, snapshot_handle()} | {:error, term()}
  def snapshot(db) do
    name = engine!(db)

    with {:ok, {:snapshot, id}} <- checked(name, Engine.snapshot(name)),
         do: {:ok, {@snap, name, id}}
  end

  @doc "Releases a snapshot."
  @spec release_snapshot(snapshot_handle()) :: :ok | {:error, term()}
  def release_snapshot({@snap, name, id}) when is_atom(name),
    do: checked(name, Engine.release_snapshot(name, {:snapshot, id}))

  def release_snapshot(_), do: :erlang.error(:badarg)

  ## Iterators

  @doc "An iterator over the default column family (unpositioned until its first move)."
  @spec iterator(db_handle(), list()) :: {:ok, itr_handle()} | {:error, term()}
  def iterator(db, opts) do
    name = engine!(db)
    checked(name, Iterator.new(name, iterator_opts(name, opts, nil)))
  end

  @doc "An iterator over a column family."
  @spec iterator(db_handle(), cf_handle(), list()) :: {:ok, itr_handle()} | {:error, term()}
  def iterator(db, cf, opts) do
    name = engine!(db)
    checked(name, Iterator.new(name, iterator_opts(name, opts, cf_opt(name, cf))))
  end

  # Read options the sidecar applies; others are accepted and ignored, as
  # the NIF ignores what it does not know.
  defp iterator_opts(name, opts, cf) when is_list(opts) do
    base = if cf, do: [cf: cf], else: []

    Enum.reduce(Args.opts!(opts), base, fn
      {:snapshot, {@snap, ^name, id}}, acc ->
        [{:snapshot, id} | acc]

      {:snapshot, _}, _ ->
        :erlang.error(:badarg)

      {k, v}, acc when k in [:iterate_lower_bound, :iterate_upper_bound] and is_binary(v) ->
        [{k, v} | acc]

      {k, v}, acc
      when k in [:fill_cache, :total_order_seek, :prefix_same_as_start] and is_boolean(v) ->
        [{k, v} | acc]

      {:readahead_size, n}, acc when is_integer(n) and n in 0..0x7FFFFFFF ->
        [{:readahead_size, n} | acc]

      # A known option with a value of the wrong type or range.
      {k, _}, _acc
      when k in [
             :iterate_lower_bound,
             :iterate_upper_bound,
             :fill_cache,
             :total_order_seek,
             :prefix_same_as_start,
             :readahead_size
           ] ->
        :erlang.error(:badarg)

      _, acc ->
        acc
    end)
  end

  defp iterator_opts(_name, _opts, _cf), do: :erlang.error(:badarg)

  @doc """
  Moves an iterator: `:first`, `:last`, `:next`, `:prev`, `{:seek, k}` (or
  a bare binary), `{:seek_for_prev, k}`. `{:ok, key, value}`, or
  `{:error, :invalid_iterator}` when it lands on no row, or
  `{:error, :iterator_closed}`.
  """
  @spec iterator_move(itr_handle(), term()) ::
          {:ok, binary(), binary()} | {:error, :invalid_iterator | :iterator_closed | term()}
  def iterator_move(itr, action), do: Iterator.move(itr, action)

  @doc "Makes an iterator see the database as it is now; it is unpositioned after."
  @spec iterator_refresh(itr_handle()) :: :ok | {:error, term()}
  def iterator_refresh(itr), do: Iterator.refresh(itr)

  @doc "Closes an iterator; closing twice is fine."
  @spec iterator_close(itr_handle()) :: :ok
  def iterator_close(itr), do: Iterator.close(itr)

  ## Folds (erlang-rocksdb's deprecated whole-family walks)

  @doc """
  Calls `fun.({key, value}, acc)` on every row of the default column
  family in key order, starting from `acc0`; returns the last accumulator.
  Walks an iterator made with `read_opts` and closes it.
  """
  @spec fold(db_handle(), (term(), term() -> term()), term(), list()) :: term()
  def fold(db, fun, acc0, read_opts) when is_function(fun, 2) do
    {:ok, itr} = iterator(db, read_opts)
    fold_rows(itr, fun, acc0)
  end

  @doc "As `fold/4`, over a column family."
  @spec fold(db_handle(), cf_handle(), (term(), term() -> term()), term(), list()) :: term()
  def fold(db, cf, fun, acc0, read_opts) when is_function(fun, 2) do
    {:ok, itr} = iterator(db, cf, read_opts)
    fold_rows(itr, fun, acc0)
  end

  @doc "As `fold/4`, calling `fun.(key, acc)`."
  @spec fold_keys(db_handle(), (binary(), term() -> term()), term(), list()) :: term()
  def fold_keys(db, fun, acc0, read_opts) when is_function(fun, 2),
    do: fold(db, fn {k, _v}, acc -> fun.(k, acc) end, acc0, read_opts)

  @doc "As `fold_keys/4`, over a column family."
  @spec fold_keys(db_handle(), cf_handle(), (binary(), term() -> term()), term(), list()) ::
          term()
  def fold_keys(db, cf, fun, acc0, read_opts) when is_function(fun, 2),
    do: fold(db, cf, fn {k, _v}, acc -> fun.(k, acc) end, acc0, read_opts)

  defp fold_rows(itr, fun, acc0) do
    fold_rows(iterator_move(itr, :first), itr, fun, acc0)
  after
    iterator_close(itr)
  end

  defp fold_rows({:ok, k, v}, itr, fun, acc),
    do: fold_rows(iterator_move(itr, :next), itr, fun, Args.user_call(fun, {k, v}, acc))

  defp fold_rows({:error, :invalid_iterator}, _itr, _fun, acc), do: acc
  # The NIF has no error to give here; a walk cut short must not pass for a
  # whole one.
  defp fold_rows({:error, reason}, _itr, _fun, _acc), do: :erlang.error({:fold_failed, reason})

  @doc """
  The approximate number of keys in the default column family (RocksDB's
  `rocksdb.estimate-num-keys`), or `{:error, reason}`.
  """
  @spec count(db_handle()) :: non_neg_integer() | {:error, term()}
  def count(db), do: count_of(get_property(db, "rocksdb.estimate-num-keys"))

  @doc "As `count/1`, for a column family."
  @spec count(db_handle(), cf_handle()) :: non_neg_integer() | {:error, term()}
  def count(db, cf), do: count_of(get_property(db, cf, "rocksdb.estimate-num-keys"))

  defp count_of({:ok, n}), do: String.to_integer(n)
  defp count_of(error), do: error

  ## Databases no process holds open

  @doc """
  Deletes the database in `path` (RocksDB's DestroyDB): its files, and the
  directory once nothing else is in it. Fails while any process, this
  BEAM's engines included, has it open; a path with no database is left
  alone and gives `:ok`.
  """
  @spec destroy(path(), list()) :: :ok | {:error, term()}
  def destroy(path, db_opts), do: offline("destroy", path, db_opts)

  @doc """
  Salvages what it can of a damaged database in `path` (RocksDB's
  RepairDB; data may be lost). Fails while any process has it open.
  """
  @spec repair(path(), list()) :: :ok | {:error, term()}
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
  @spec flush(db_handle(), list()) :: :ok | {:error, term()}
  def flush(db, opts), do: flush(db, :default_column_family, opts)

  @doc "Flushes the memtables of a column family."
  @spec flush(db_handle(), cf_handle(), list()) :: :ok | {:error, term()}
  def flush(db, cf, _opts) do
    name = engine!(db)
    opts = if f = cf_opt(name, cf), do: [cf: f], else: []
    checked(name, Engine.flush(name, opts))
  end

  @doc """
  Makes every write acknowledged before it durable (an fsync of the WAL),
  as writing each with `sync: true` would have.
  """
  @spec sync_wal(db_handle()) :: :ok | {:error, term()}
  def sync_wal(db) do
    name = engine!(db)
    checked(name, Engine.Caller.call(name, {:sync_wal}, nil))
  end

  @doc """
  RocksDB's sequence number of the last write (one per put or delete, one
  per operation of a batch). `{:error, reason}` when the sidecar cannot
  answer, where the NIF has no error to give.
  """
  @spec get_latest_sequence_number(db_handle()) :: non_neg_integer() | {:error, term()}
  def get_latest_sequence_number(db) do
    name = engine!(db)

    case checked(name, Engine.Caller.call(name, {:latest_sequence_number}, nil)) do
      {:ok, seq} -> seq
      {:error, _} = error -> error
    end
  end

  @doc "Compacts `[begin, end]` (`:undefined` for an open end) of the default column family."
  @spec compact_range(db_handle(), binary() | :undefined, binary() | :undefined, list()) ::
          :ok | {:error, term()}
  def compact_range(db, begin_key, end_key, opts),
    do: compact_range(db, :default_column_family, begin_key, end_key, opts)

  @doc "Compacts a range of a column family."
  @spec compact_range(
          db_handle(),
          cf_handle(),
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

  @doc "A RocksDB property of the default column family: `{:ok, binary}`."
  @spec get_property(db_handle(), binary()) :: {:ok, binary()} | {:error, term()}
  def get_property(db, property), do: get_property(db, :default_column_family, property)

  @doc "A RocksDB property of a column family."
  @spec get_property(db_handle(), cf_handle(), binary()) :: {:ok, binary()} | {:error, term()}
  def get_property(db, cf, property) when is_binary(property) do
    name = engine!(db)
    opts = if f = cf_opt(name, cf), do: [cf: f], else: []
    checked(name, Engine.get_property(name, property, opts))
  end

  @doc "RocksDB's `rocksdb.stats` text for the default column family."
  @spec stats(db_handle()) :: {:ok, binary()} | {:error, term()}
  def stats(db), do: get_property(db, "rocksdb.stats")

  @doc "RocksDB's `rocksdb.stats` text for a column family."
  @spec stats(db_handle(), cf_handle()) :: {:ok, binary()} | {:error, term()}
  def stats(db, cf), do: get_property(db, cf, "rocksdb.stats")

  @doc "Writes an openable copy of the database to `path` (RocksDB's files in it), which must not exist."
  @spec checkpoint(db_handle(), path()) :: :ok | {:error, term()}
  def checkpoint(db, path) do
    name = engine!(db)
    dir = Args.expand!(path) || :erlang.error(:badarg)
    checked(name, Store.KV.Engine.Caller.call(name, {:checkpoint, dir, [flat: true]}, 600_000))
  end

  ## Backups

  @typedoc "A backup engine handle: the backup directory."
  @type backup_engine :: {:spire_rocksdb_backup_engine, String.t()}

  @doc "A handle on the backup directory `path` (created by the first backup)."
  @spec open_backup_engine(path()) :: {:ok, backup_engine()}
  def open_backup_engine(path), do: {:ok, {@backup, Args.expand!(path) || :erlang.error(:badarg)}}

  @doc "Forgets a backup engine handle."
  @spec close_backup_engine(backup_engine()) :: :ok
  def close_backup_engine({@backup, _}), do: :ok
  def close_backup_engine(_), do: :erlang.error(:badarg)

  @doc "Nothing to collect: every call opens and closes RocksDB's BackupEngine."
  @spec gc_backup_engine(backup_engine()) :: :ok
  def gc_backup_engine({@backup, _}), do: :ok
  def gc_backup_engine(_), do: :erlang.error(:badarg)

  @doc "Adds a backup of `db` (with the WAL, as RocksDB's CreateNewBackup does)."
  @spec create_new_backup(backup_engine(), db_handle()) :: :ok | {:error, term()}
  def create_new_backup({@backup, dir}, db) do
    name = engine!(db)

    case checked(name, Engine.backup(name, dir)) do
      {:ok, _info} -> :ok
      error -> error
    end
  end

  def create_new_backup(_, _), do: :erlang.error(:badarg)

  @doc "A backup cannot be stopped once started here; it runs to its end."
  @spec stop_backup(backup_engine()) :: :ok
  def stop_backup({@backup, _}), do: :ok

  @doc "`[%{id:, timestamp:, size:, number_files:}]`, oldest first."
  @spec get_backup_info(backup_engine()) :: [map()]
  def get_backup_info({@backup, dir}) do
    case Engine.list_backups(dir) do
      {:ok, infos} ->
        for i <- infos,
            do: %{id: i.id, timestamp: i.timestamp, size: i.size, number_files: i.files}

      {:error, _} ->
        []
    end
  end

  @doc "Checks every file of a backup, checksums included."
  @spec verify_backup(backup_engine(), pos_integer()) :: :ok | {:error, term()}
  def verify_backup({@backup, dir}, id) when is_integer(id) and id in 1..0xFFFFFFFF,
    do: Engine.verify_backup(dir, id)

  @doc "Deletes one backup."
  @spec delete_backup(backup_engine(), pos_integer()) :: :ok | {:error, term()}
  def delete_backup({@backup, dir}, id) when is_integer(id) and id in 1..0xFFFFFFFF,
    do: Engine.delete_backup(dir, id)

  @doc "Keeps the newest `n` backups."
  @spec purge_old_backup(backup_engine(), non_neg_integer()) :: :ok | {:error, term()}
  def purge_old_backup({@backup, dir}, n) when is_integer(n) and n in 0..0xFFFFFFFF,
    do: Engine.purge_old_backups(dir, keep: n)

  @doc "Restores backup `id` as a database in `db_dir` (RocksDB's files in it)."
  @spec restore_db_from_backup(backup_engine(), pos_integer(), path()) :: :ok | {:error, term()}
  def restore_db_from_backup({@backup, dir}, id, db_dir)
      when is_integer(id) and id in 1..0xFFFFFFFF,
      do:
        Store.KV.Engine.Backup.restore(
          dir,
          id,
          Args.expand!(db_dir) || :erlang.error(:badarg),
          true
        )

  @doc "As `restore_db_from_backup/3`; the WAL goes with the database."
  @spec restore_db_from_backup(backup_engine(), pos_integer(), path(), path()) ::
          :ok | {:error, term()}
  def restore_db_from_backup(be, id, db_dir, _wal_dir), do: restore_db_from_backup(be, id, db_dir)

  @doc "Restores the latest backup as a database in `db_dir`."
  @spec restore_db_from_latest_backup(backup_engine(), path()) :: :ok | {:error, term()}
  def restore_db_from_latest_backup({@backup, dir}, db_dir),
    do:
      Store.KV.Engine.Backup.restore(
        dir,
        :latest,
        Args.expand!(db_dir) || :erlang.error(:badarg),
        true
      )

  @doc "As `restore_db_from_latest_backup/2`; the WAL goes with the database."
  @spec restore_db_from_latest_backup(backup_engine(), path(), path()) :: :ok | {:error, term()}
  def restore_db_from_latest_backup(be, db_dir, _wal_dir),
    do: restore_db_from_latest_backup(be, db_dir)

  @doc "Whether the default column family holds no key."
  @spec is_empty(db_handle()) :: boolean()
  def is_empty(db) do
    name = engine!(db)

    case checked(name, Engine.scan_range(name, "", "", limit: 1)) do
      {:ok, []} -> true
      {:ok, _} -> false
      {:error, _} = error -> error
    end
  end

  ## Caches, rate limiters, statistics

  @doc "A block cache of `capacity` bytes, to pass as `block_based_table_options: [block_cache: c]`."
  @spec new_cache(:lru | :clock, non_neg_integer()) :: {:ok, object_handle()}
  def new_cache(type, capacity)
      when type in [:lru, :clock] and is_integer(capacity) and capacity >= 0,
      do: new_object(:cache, %{capacity: capacity})

  @doc "Forgets a cache handle (the engine that uses it keeps its cache)."
  @spec release_cache(object_handle()) :: :ok
  def release_cache(cache), do: release_object(cache)

  @doc """
  `[capacity:, strict_capacity:, usage:, pinned_usage:]`: usage from the
  engines opened with this cache.
  """
  @spec cache_info(object_handle()) :: [{atom(), term()}]
  def cache_info(cache) do
    %{capacity: cap} = object!(cache, :cache)

    {usage, pinned} =
      for [{name, _, _}] <- :ets.match(Registry.dbs(), :"$1"),
          used_cache?(name, cap),
          {:ok, info} <- [Engine.get_cache_info(name)],
          reduce: {0, 0} do
        {u, p} -> {u + info.usage, p + info.pinned_usage}
      end

    [capacity: cap, strict_capacity: false, usage: usage, pinned_usage: pinned]
  end

  defp used_cache?(name, cap) do
    match?({:ok, %{capacity: ^cap}}, alive?(name) && Engine.get_cache_info(name))
  end

  @doc "One item of `cache_info/1`."
  @spec cache_info(object_handle(), atom()) :: term()
  def cache_info(cache, item), do: Keyword.fetch!(cache_info(cache), item)

  @doc "A rate limiter for flush and compaction I/O, for the `rate_limiter` open option."
  @spec new_rate_limiter(non_neg_integer(), boolean()) :: {:ok, object_handle()}
  def new_rate_limiter(rate, _auto) when is_integer(rate) and rate >= 0,
    do: new_object(:rate_limiter, %{rate: rate})

  @doc "Forgets a rate limiter handle."
  @spec release_rate_limiter(object_handle()) :: :ok
  def release_rate_limiter(limiter), do: release_object(limiter)

  @doc "A statistics handle: the sidecar always keeps RocksDB's statistics."
  @spec new_statistics() :: {:ok, object_handle()}
  def new_statistics, do: new_object(:statistics, %{level: :stats_except_detailed_timers})

  @doc "Records the statistics level (the sidecar keeps its own)."
  @spec set_stats_level(object_handle(), atom()) :: :ok
  def set_stats_level(stats, level) when is_atom(level) do
    object!(stats, :statistics)
    :ets.insert(Registry.objects(), {stats, :statistics, %{level: level}})
    :ok
  end

  @doc "`[stats_level: level]`."
  @spec statistics_info(object_handle()) :: [{:stats_level, atom()}]
  def statistics_info(stats), do: [stats_level: object!(stats, :statistics).level]

  @doc "Forgets a statistics handle."
  @spec release_statistics(object_handle()) :: :ok
  def release_statistics(stats), do: release_object(stats)

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
end
