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

  A handle is a tuple that names its engine (and column family, iterator,
  snapshot or batch) and carries a lifetime resource (`Store.KV.RocksDB.Life`):
  it stays valid across a sidecar restart, can be kept in
  `:persistent_term`, and lives as the NIF's resources do, until closed or
  released, or until no term references it. A handle that is not one
  (`nil`, a closed database, another module's term) raises
  `ArgumentError`, as the NIF raises `badarg`.

  ## Where it differs from the NIF

    * `open/2,3` starts a `Store.KV.Engine` (a sidecar) under spire_port's
      supervision, with RocksDB in exactly the path given. It is closed by
      `close/1`, or once no term references its handles, whichever process
      opened it (docs/spiredb.md, "Handle lifetimes").
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

  @typedoc "A database handle."
  @type db_handle :: {:spire_rocksdb_db, atom(), reference()} | {:spire_rocksdb_db, atom()}
  @typedoc "A column family handle, or the default family."
  @type cf_handle ::
          {:spire_rocksdb_cf, atom(), String.t(), reference() | nil} | :default_column_family
  @typedoc "An iterator handle."
  @type itr_handle :: {:spire_rocksdb_iterator, reference(), reference()}
  @typedoc "A snapshot handle."
  @type snapshot_handle :: {:spire_rocksdb_snapshot, atom(), pos_integer(), reference()}
  @typedoc "A batch handle."
  @type batch_handle :: {:spire_rocksdb_batch, reference(), reference()}
  @typedoc "A cache, rate limiter or statistics handle."
  @type object_handle :: reference()
  @typedoc "A file name, as the NIF takes it."
  @type path :: charlist() | binary()
  @typedoc "A backup engine handle: the backup directory."
  @type backup_engine :: {:spire_rocksdb_backup_engine, String.t()}

  # Each concern in a module of its own, as erlang-rocksdb's sources are
  # split; this module is their one entry point, and :rocksdb delegates to
  # the modules themselves (__api__/0).
  @api_modules [
    Store.KV.RocksDB.DB,
    Store.KV.RocksDB.ColumnFamilies,
    Store.KV.RocksDB.KV,
    Store.KV.RocksDB.Batches,
    Store.KV.RocksDB.Snapshots,
    Store.KV.RocksDB.Iterators,
    Store.KV.RocksDB.Backups,
    Store.KV.RocksDB.Objects,
    Store.KV.RocksDB.TLog,
    Store.KV.RocksDB.Transactions
  ]

  # Public for the other parts only: collected/1,2 is what the Registry
  # calls when a handle is collected, note_users/2 what open calls.
  @internal [collected: 1, collected: 2, note_users: 2]

  @api for mod <- @api_modules,
           {fun, arity} <- mod.__info__(:functions),
           {fun, arity} not in @internal,
           do: {mod, fun, arity}

  @doc false
  @spec __api__() :: [{module(), atom(), arity()}]
  def __api__, do: @api

  # Each delegate keeps its arguments referenced until the call returns
  # (Store.KV.RocksDB.Life.keep/1), as a NIF call keeps its resources.
  for {mod, fun, arity} <- @api do
    args = Macro.generate_arguments(arity, __MODULE__)
    @doc "`#{inspect(mod)}.#{fun}/#{arity}`."
    def unquote(fun)(unquote_splicing(args)) do
      result = unquote(mod).unquote(fun)(unquote_splicing(args))
      unquote_splicing(for arg <- args, do: quote(do: Store.KV.RocksDB.Life.keep(unquote(arg))))
      result
    end
  end
end
