defmodule Store.KV.RocksDB.Handles do
  @moduledoc false
  # What every part of Store.KV.RocksDB shares: the shapes of its handles
  # and the checks that turn a handle into the engine and column family it
  # names. `use Store.KV.RocksDB.Handles` brings them in with the tags.

  alias Store.KV.RocksDB.{Args, Life, Registry}

  @db :spire_rocksdb_db
  @cf :spire_rocksdb_cf
  @snap :spire_rocksdb_snapshot

  defmacro __using__(_) do
    quote do
      @db :spire_rocksdb_db
      @cf :spire_rocksdb_cf
      @snap :spire_rocksdb_snapshot
      @backup :spire_rocksdb_backup_engine
      @itr :spire_rocksdb_iterator
      @batch :spire_rocksdb_batch
      @txn :spire_rocksdb_txn

      import Store.KV.RocksDB.Handles
      alias Store.KV.Engine
      alias Store.KV.RocksDB, as: R
      alias Store.KV.RocksDB.{Args, Life, Registry}
    end
  end

  @doc "Sets a thread pool of engine `name`'s sidecar (see `threads!/2`)."
  @spec set_threads(atom(), term(), term()) :: :ok | {:error, term()}
  def set_threads(name, n, pri) do
    threads!(n, pri)
    checked(name, Store.KV.Engine.Caller.call(name, {:set_background_threads, n, pri}, nil))
  end

  @doc "A pool size the sidecar takes (0..1024) and `:priority_low` or `:priority_high`; badarg for anything else."
  @spec threads!(term(), term()) :: :ok
  def threads!(n, pri)
      when is_integer(n) and n >= 0 and n <= 1024 and pri in [:priority_low, :priority_high],
      do: :ok

  def threads!(_n, _pri), do: :erlang.error(:badarg)

  @doc "The engine a database handle names; badarg for anything else."
  @spec engine!(term()) :: atom()
  def engine!({@db, name, _life}) when is_atom(name), do: name
  def engine!({@db, name}) when is_atom(name), do: name
  def engine!(_), do: :erlang.error(:badarg)

  @doc """
  The lifetime resource of a handle (Store.KV.RocksDB.Life): what a handle
  made from it holds so that the database stays open while it lives;
  `nil` for a shared engine's handle (get_db_ref/1), which its own
  supervisor keeps.
  """
  @spec life(term()) :: reference() | nil
  def life({@db, _name, life}), do: life
  def life({@cf, _name, _family, life}), do: life
  def life(_), do: nil

  @doc "A lifetime resource that tells the Registry `key` is gone once unreferenced; it keeps `held` alive."
  @spec new_life(term(), term()) :: reference()
  def new_life(key, held) do
    case Process.whereis(Registry) do
      nil -> :erlang.error(:badarg)
      pid -> Life.new(pid, key, held)
    end
  end

  @doc """
  Asks the sidecar of engine `name` to close what `request` names,
  without waiting: when the database is closed its sidecar and every
  handle it served are gone already.
  """
  @spec cast_close(atom(), tuple()) :: :ok
  def cast_close(name, request) do
    if :ets.member(Registry.dbs(), name), do: Store.KV.Engine.Caller.cast(name, request)
    :ok
  end

  @doc "The column family a handle names, on engine `name`."
  @spec family!(atom(), term()) :: String.t()
  def family!(_name, :default_column_family), do: "default"
  def family!(name, {@cf, name, family, _life}), do: family
  def family!(_name, _), do: :erlang.error(:badarg)

  @doc "The handle of column family `family` of database handle `db`; it keeps the database open."
  @spec cf(Store.KV.RocksDB.db_handle(), String.t()) :: Store.KV.RocksDB.cf_handle()
  def cf(_db, "default"), do: :default_column_family
  def cf(db, family), do: {@cf, engine!(db), family, life(db)}

  @doc """
  A call that found no engine: a database that is not open (closed, or
  never opened) is a bad handle; one whose sidecar is restarting answers
  the error.
  """
  @spec checked(atom(), term()) :: term()
  def checked(name, {:error, :engine_down} = error) do
    if :ets.member(Registry.dbs(), name), do: error, else: :erlang.error(:badarg)
  end

  def checked(_name, result), do: result

  @doc "A key: a binary."
  @spec key!(term()) :: binary()
  def key!(k) when is_binary(k), do: k
  def key!(_), do: :erlang.error(:badarg)

  @doc "The engine's read options for the NIF's, on engine `name`."
  @spec read_opts(atom(), term(), String.t() | nil) :: keyword()
  def read_opts(name, opts, cf) do
    base = if cf, do: [cf: cf], else: []

    Enum.reduce(Args.opts!(opts), base, fn
      {:snapshot, snap}, acc -> [{:snapshot, {:snapshot, snapshot_id!(name, snap)}} | acc]
      _, acc -> acc
    end)
  end

  @doc "The id of a snapshot of engine `name` not released yet; badarg for anything else."
  @spec snapshot_id!(atom(), term()) :: pos_integer()
  def snapshot_id!(name, {@snap, name, id, life}) do
    if Life.armed?(life), do: id, else: :erlang.error(:badarg)
  end

  def snapshot_id!(_name, _), do: :erlang.error(:badarg)

  @doc "The engine's write options for the NIF's (`sync`, `disable_wal`; the rest are ignored, as there)."
  @spec write_opts(term(), String.t() | nil) :: keyword()
  def write_opts(opts, cf) do
    opts = Args.opts!(opts)

    flags =
      for key <- [:sync, :disable_wal], :proplists.get_value(key, opts) == true, do: {key, true}

    if cf, do: [{:cf, cf} | flags], else: flags
  end

  @doc """
  A write's result as the NIF gives it: RocksDB's refusal is
  `{:error, {:error, Message}}` (a charlist); `checked/2` otherwise.
  """
  @spec write_result(atom(), term()) :: term()
  def write_result(_name, {:error, {:rocksdb, msg}}) when is_binary(msg),
    do: {:error, {:error, String.to_charlist(msg)}}

  def write_result(name, result), do: checked(name, result)

  @doc """
  A read's result as the NIF gives it: `{:error, {:corruption, Message}}`
  for corrupt data, `{:error, {:unknown_status_error, Message}}` for any
  other refusal of RocksDB's; `checked/2` otherwise.
  """
  @spec read_result(atom(), term()) :: term()
  def read_result(_name, {:error, {:rocksdb, "Corruption" <> _ = msg}}),
    do: {:error, {:corruption, String.to_charlist(msg)}}

  def read_result(_name, {:error, {:rocksdb, msg}}) when is_binary(msg),
    do: {:error, {:unknown_status_error, String.to_charlist(msg)}}

  def read_result(name, result), do: checked(name, result)

  @doc "The family option for a column family handle (nil for the default)."
  @spec cf_opt(atom(), term()) :: String.t() | nil
  def cf_opt(_name, :default_column_family), do: nil
  def cf_opt(name, cf), do: family!(name, cf)

  @doc "The engine name of a database path: one engine per path, an atom so calls find it cheaply."
  @spec engine_name(String.t()) :: atom()
  def engine_name(abs), do: :"spire_rocksdb_#{:erlang.phash2(abs, 4_294_967_296)}"

  @doc "Whether an engine runs under `name`."
  @spec alive?(atom()) :: boolean()
  def alive?(name), do: is_pid(Process.whereis(name))
end
