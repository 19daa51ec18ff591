defmodule Store.KV.RocksDB.KV do
  @moduledoc false
  # Reads and writes of keys: get, put, delete, delete_range, write.

  use Store.KV.RocksDB.Handles

  @doc "Reads `key` from the default column family: `{:ok, value}` or `:not_found`."
  @spec get(R.db_handle(), binary(), list()) :: {:ok, binary()} | :not_found | {:error, term()}
  def get({@db, name, _life}, key, []) when is_atom(name) and is_binary(key),
    do: plain_get(name, key)

  def get({@db, name}, key, []) when is_atom(name) and is_binary(key), do: plain_get(name, key)

  def get(db, key, opts), do: do_get(engine!(db), nil, key!(key), opts)

  # The common call, without options: the engine's own fast path.
  defp plain_get(name, key) do
    case Engine.get(name, key) do
      {:error, :not_found} -> :not_found
      {:ok, _} = ok -> ok
      error -> read_result(name, error)
    end
  end

  @doc "Reads `key` from a column family."
  @spec get(R.db_handle(), R.cf_handle(), binary(), list()) ::
          {:ok, binary()} | :not_found | {:error, term()}
  def get(db, cf, key, opts) do
    name = engine!(db)
    do_get(name, cf_opt(name, cf), key!(key), opts)
  end

  defp do_get(name, cf, key, opts) do
    case Engine.get(name, key, read_opts(name, opts, cf)) do
      {:error, :not_found} -> :not_found
      result -> read_result(name, result)
    end
  end

  @doc "Writes `key` in the default column family (`[sync: true]` to fsync)."
  @spec put(R.db_handle(), binary(), binary(), list()) :: :ok | {:error, term()}
  def put({@db, name, _life}, key, value, [])
      when is_atom(name) and is_binary(key) and is_binary(value),
      do: write_result(name, Engine.put(name, key, value))

  def put({@db, name}, key, value, []) when is_atom(name) and is_binary(key) and is_binary(value),
    do: write_result(name, Engine.put(name, key, value))

  def put(db, key, value, opts), do: do_put(engine!(db), nil, key, value, opts)

  @doc "Writes `key` in a column family."
  @spec put(R.db_handle(), R.cf_handle(), binary(), binary(), list()) :: :ok | {:error, term()}
  def put(db, cf, key, value, opts) do
    name = engine!(db)
    do_put(name, cf_opt(name, cf), key, value, opts)
  end

  defp do_put(name, cf, key, value, opts) when is_binary(key) and is_binary(value),
    do: write_result(name, Engine.put(name, key, value, write_opts(opts, cf)))

  defp do_put(_, _, _, _, _), do: :erlang.error(:badarg)

  @doc "Deletes `key` from the default column family."
  @spec delete(R.db_handle(), binary(), list()) :: :ok | {:error, term()}
  def delete(db, key, opts), do: do_delete(engine!(db), nil, key!(key), opts)

  @doc "Deletes `key` from a column family."
  @spec delete(R.db_handle(), R.cf_handle(), binary(), list()) :: :ok | {:error, term()}
  def delete(db, cf, key, opts) do
    name = engine!(db)
    do_delete(name, cf_opt(name, cf), key!(key), opts)
  end

  defp do_delete(name, cf, key, opts),
    do: write_result(name, Engine.delete(name, key, write_opts(opts, cf)))

  @doc "RocksDB's SingleDelete: `key` was put at most once since it was last deleted (the caller's promise)."
  @spec single_delete(R.db_handle(), binary(), list()) :: :ok | {:error, term()}
  def single_delete(db, key, opts), do: R.write(db, [{:single_delete, key!(key)}], opts)

  @doc "A delete in a column family."
  @spec single_delete(R.db_handle(), R.cf_handle(), binary(), list()) :: :ok | {:error, term()}
  def single_delete(db, cf, key, opts), do: R.write(db, [{:single_delete, cf, key!(key)}], opts)

  @doc "Deletes `[begin, end)` of the default column family."
  @spec delete_range(R.db_handle(), binary(), binary(), list()) :: :ok | {:error, term()}
  def delete_range(db, begin_key, end_key, opts) do
    name = engine!(db)

    write_result(
      name,
      Engine.delete_range(name, key!(begin_key), key!(end_key), write_opts(opts, nil))
    )
  end

  @doc "Deletes `[begin, end)` of a column family."
  @spec delete_range(R.db_handle(), R.cf_handle(), binary(), binary(), list()) ::
          :ok | {:error, term()}
  def delete_range(db, cf, begin_key, end_key, opts) do
    name = engine!(db)
    cf = cf_opt(name, cf)

    write_result(
      name,
      Engine.delete_range(name, key!(begin_key), key!(end_key), write_opts(opts, cf))
    )
  end

  @doc "Merges `operand` into `key` with the merge operator the database was opened with."
  @spec merge(R.db_handle(), binary(), binary(), list()) :: :ok | {:error, term()}
  def merge(db, key, operand, opts), do: do_merge(engine!(db), nil, key, operand, opts)

  @doc "Merges `operand` into `key` of a column family."
  @spec merge(R.db_handle(), R.cf_handle(), binary(), binary(), list()) :: :ok | {:error, term()}
  def merge(db, cf, key, operand, opts) do
    name = engine!(db)
    do_merge(name, cf_opt(name, cf), key, operand, opts)
  end

  defp do_merge(name, cf, key, operand, opts) when is_binary(key) and is_binary(operand),
    do: write_result(name, Engine.merge(name, key, operand, write_opts(opts, cf)))

  defp do_merge(_, _, _, _, _), do: :erlang.error(:badarg)

  @doc "Applies write actions atomically (`{:put, k, v}`, `{:put, cf, k, v}`, `{:delete, ...}`, ...)."
  @spec write(R.db_handle(), list(), list()) :: :ok | {:error, term()}
  def write(db, actions, opts) when is_list(actions) do
    name = engine!(db)
    write_result(name, Engine.write_batch(name, to_ops(name, actions, []), write_opts(opts, nil)))
  end

  def write(_db, _actions, _opts), do: :erlang.error(:badarg)

  defp to_ops(_name, [], acc), do: :lists.reverse(acc)
  defp to_ops(name, [:clear | rest], _acc), do: to_ops(name, rest, [])
  defp to_ops(name, [action | rest], acc), do: to_ops(name, rest, [to_op(name, action) | acc])

  defp to_op(_name, {:put, k, v}) when is_binary(k) and is_binary(v), do: {:put, k, v}

  defp to_op(name, {:put, cf, k, v}) when is_binary(k) and is_binary(v),
    do: put_op(name, cf, k, v)

  defp to_op(_name, {kind, k}) when kind in [:delete, :single_delete] and is_binary(k),
    do: {kind, k}

  defp to_op(name, {kind, cf, k}) when kind in [:delete, :single_delete] and is_binary(k),
    do: cf_op(name, cf, {kind, k})

  defp to_op(_name, {:merge, k, v}) when is_binary(k) and is_binary(v), do: {:merge, k, v}

  defp to_op(name, {:merge, cf, k, v}) when is_binary(k) and is_binary(v),
    do: cf_op(name, cf, {:merge, k, v})

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
end
