defmodule Store.KV.RocksDB.Transactions do
  @moduledoc false
  # Optimistic transactions: a database opened for them, and transactions
  # that buffer their writes, read them back, and commit them at once
  # unless another write touched one of their keys since they began.

  use Store.KV.RocksDB.Handles

  @doc "Opens (or creates, with `create_if_missing`) a database that serves transactions."
  @spec open_optimistic_transaction_db(R.path(), list()) ::
          {:ok, R.db_handle()} | {:error, term()}
  def open_optimistic_transaction_db(path, opts) do
    with {:ok, db, _} <- open_optimistic_transaction_db(path, opts, [{~c"default", []}]),
         do: {:ok, db}
  end

  @doc "As `open_optimistic_transaction_db/2`, with column families."
  @spec open_optimistic_transaction_db(R.path(), list(), list()) ::
          {:ok, R.db_handle(), [R.cf_handle()]} | {:error, term()}
  def open_optimistic_transaction_db(path, opts, cfds),
    do: R.open(path, Args.opts!(opts) ++ [{:spire_optimistic, true}], cfds)

  @doc "Begins a transaction (write options: `sync`, `disable_wal` for its commit)."
  @spec transaction(R.db_handle(), list()) :: {:ok, tuple()} | {:error, term()}
  def transaction(db, wopts) do
    name = engine!(db)

    with {:ok, id} <-
           checked(name, Engine.Caller.call(name, {:txn_begin, write_opts(wopts, nil)}, nil)),
         do: {:ok, {@txn, name, id, new_life({:close, name, {:txn_release, id}}, life(db))}}
  end

  @doc "Writes `key` in the transaction."
  @spec transaction_put(tuple(), binary(), binary()) :: :ok | {:error, term()}
  def transaction_put(txn, key, value),
    do: transaction_put(txn, :default_column_family, key, value)

  @doc "Writes `key` of a column family in the transaction."
  @spec transaction_put(tuple(), R.cf_handle(), binary(), binary()) :: :ok | {:error, term()}
  def transaction_put(txn, cf, key, value) when is_binary(key) and is_binary(value),
    do: call(txn, cf, fn id, opts -> {:txn_put, id, key, value, opts} end)

  @doc "Deletes `key` in the transaction."
  @spec transaction_delete(tuple(), binary()) :: :ok | {:error, term()}
  def transaction_delete(txn, key), do: transaction_delete(txn, :default_column_family, key)

  @doc "Deletes `key` of a column family in the transaction."
  @spec transaction_delete(tuple(), R.cf_handle(), binary()) :: :ok | {:error, term()}
  def transaction_delete(txn, cf, key) when is_binary(key),
    do: call(txn, cf, fn id, opts -> {:txn_delete, id, key, opts} end)

  @doc "Reads `key` as the transaction sees it: `{:ok, value}` or `:not_found`."
  @spec transaction_get(tuple(), binary(), list()) ::
          {:ok, binary()} | :not_found | {:error, term()}
  def transaction_get(txn, key, opts), do: transaction_get(txn, :default_column_family, key, opts)

  @doc "As `transaction_get/3`, in a column family."
  @spec transaction_get(tuple(), R.cf_handle(), binary(), list()) ::
          {:ok, binary()} | :not_found | {:error, term()}
  def transaction_get(txn, cf, key, opts) when is_binary(key) do
    Args.opts!(opts)

    case call(txn, cf, fn id, wire -> {:txn_get, id, key, wire} end) do
      {:error, :not_found} -> :not_found
      result -> result
    end
  end

  @doc "Commits; another write to one of its keys since it began makes it `{:error, {:error, 'Resource busy: ...'}}`."
  @spec transaction_commit(tuple()) :: :ok | {:error, term()}
  def transaction_commit(txn), do: call(txn, nil, fn id, _ -> {:txn_commit, id} end)

  @doc "Drops the transaction's writes."
  @spec transaction_rollback(tuple()) :: :ok | {:error, term()}
  def transaction_rollback(txn), do: call(txn, nil, fn id, _ -> {:txn_rollback, id} end)

  @doc "Frees the transaction (its writes are dropped unless committed); twice is fine."
  @spec release_transaction(tuple()) :: :ok
  def release_transaction({@txn, name, id, life}) when is_atom(name) do
    if Life.disarm(life) == :ok, do: cast_close(name, {:txn_release, id})
    :ok
  end

  def release_transaction(_), do: :erlang.error(:badarg)

  defp call({@txn, name, id, life}, cf, request) when is_atom(name) do
    unless Life.armed?(life), do: :erlang.error(:badarg)
    opts = if family = cf && cf_opt(name, cf), do: [cf: family], else: []

    case Engine.Caller.call(name, request.(id, opts), nil) do
      {:error, {:unknown_transaction, _}} -> :erlang.error(:badarg)
      result -> write_result(name, result)
    end
  end

  defp call(_txn, _cf, _request), do: :erlang.error(:badarg)
end
