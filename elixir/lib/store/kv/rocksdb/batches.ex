defmodule Store.KV.RocksDB.Batches do
  @moduledoc false
  # Batches: operations kept in ETS until write_batch/3 applies them at once.

  use Store.KV.RocksDB.Handles

  @doc "A new, empty batch."
  @spec batch() :: {:ok, R.batch_handle()}
  def batch do
    batch = make_ref()
    :ets.insert(Registry.batches(), {{:live, batch}, true})
    # Its operations go once nothing references the handle, as the NIF's.
    {:ok, {@batch, batch, new_life({:batch, batch}, nil)}}
  end

  # The key of a batch made by batch/0 and not released; the NIF raises
  # badarg for anything else.
  defp batch!({@batch, batch, _life}) do
    if :ets.member(Registry.batches(), {:live, batch}),
      do: batch,
      else: :erlang.error(:badarg)
  end

  defp batch!(_), do: :erlang.error(:badarg)

  @doc false
  @spec collected(reference()) :: :ok
  def collected(batch) do
    clear(batch)
    :ets.delete(Registry.batches(), {:live, batch})
    :ok
  end

  # A column family handle's shape, checked when added to a batch as the
  # NIF checks it; which database it belongs to is known at the write.
  defp cf_shape!(:default_column_family = cf), do: cf

  defp cf_shape!({@cf, name, family, _life} = cf) when is_atom(name) and is_binary(family),
    do: cf

  defp cf_shape!(_), do: :erlang.error(:badarg)

  @doc "Forgets a batch."
  @spec release_batch(R.batch_handle()) :: :ok
  def release_batch({@batch, batch, life}) when is_reference(batch) do
    Life.disarm(life)
    collected(batch)
  end

  def release_batch(_), do: :erlang.error(:badarg)

  defp clear(batch) do
    :ets.delete(Registry.batches(), batch)
    :ets.delete(Registry.batches(), {:savepoints, batch})
    :ok
  end

  @doc "Adds a put."
  @spec batch_put(R.batch_handle(), binary(), binary()) :: :ok
  def batch_put(batch, k, v) when is_binary(k) and is_binary(v),
    do: add(batch, {:put, k, v})

  @doc "Adds a put in a column family."
  @spec batch_put(R.batch_handle(), R.cf_handle(), binary(), binary()) :: :ok
  def batch_put(batch, cf, k, v) when is_binary(k) and is_binary(v),
    do: add(batch, {:put, cf_shape!(cf), k, v})

  @doc "Adds a merge."
  @spec batch_merge(R.batch_handle(), binary(), binary()) :: :ok
  def batch_merge(batch, k, v) when is_binary(k) and is_binary(v), do: add(batch, {:merge, k, v})

  @doc "Adds a merge in a column family."
  @spec batch_merge(R.batch_handle(), R.cf_handle(), binary(), binary()) :: :ok
  def batch_merge(batch, cf, k, v) when is_binary(k) and is_binary(v),
    do: add(batch, {:merge, cf_shape!(cf), k, v})

  @doc "Adds a delete."
  @spec batch_delete(R.batch_handle(), binary()) :: :ok
  def batch_delete(batch, k) when is_binary(k),
    do: add(batch, {:delete, k})

  @doc "Adds a delete in a column family."
  @spec batch_delete(R.batch_handle(), R.cf_handle(), binary()) :: :ok
  def batch_delete(batch, cf, k) when is_binary(k),
    do: add(batch, {:delete, cf_shape!(cf), k})

  @doc "Adds a SingleDelete (see `single_delete/3`)."
  @spec batch_single_delete(R.batch_handle(), binary()) :: :ok
  def batch_single_delete(batch, k) when is_binary(k), do: add(batch, {:single_delete, k})

  @doc "Adds a delete in a column family."
  @spec batch_single_delete(R.batch_handle(), R.cf_handle(), binary()) :: :ok
  def batch_single_delete(batch, cf, k) when is_binary(k),
    do: add(batch, {:single_delete, cf_shape!(cf), k})

  @doc "Adds a range delete `[begin, end)`."
  @spec batch_delete_range(R.batch_handle(), binary(), binary()) :: :ok
  def batch_delete_range(batch, s, e) when is_binary(s) and is_binary(e),
    do: add(batch, {:delete_range, s, e})

  @doc "Adds a range delete in a column family."
  @spec batch_delete_range(R.batch_handle(), R.cf_handle(), binary(), binary()) :: :ok
  def batch_delete_range(batch, cf, s, e)
      when is_binary(s) and is_binary(e),
      do: add(batch, {:delete_range, cf_shape!(cf), s, e})

  @doc "Empties a batch."
  @spec batch_clear(R.batch_handle()) :: :ok
  def batch_clear(batch), do: clear(batch!(batch))

  @doc "The number of operations in a batch."
  @spec batch_count(R.batch_handle()) :: non_neg_integer()
  def batch_count(batch),
    do: :ets.select_count(Registry.batches(), [{{batch!(batch), :_}, [], [true]}])

  @doc "The operations of a batch, in order."
  @spec batch_tolist(R.batch_handle()) :: list()
  def batch_tolist(batch),
    do: for({_, op} <- :ets.lookup(Registry.batches(), batch!(batch)), do: op)

  @doc "Marks the batch's current end; `batch_rollback/1` goes back to the latest mark."
  @spec batch_savepoint(R.batch_handle()) :: :ok
  def batch_savepoint(handle) do
    batch = batch!(handle)
    :ets.insert(Registry.batches(), {{:savepoints, batch}, batch_count(handle)})
    :ok
  end

  @doc """
  Drops the operations added since the latest `batch_savepoint/1`, and
  that mark; `{:error, {:error, ~c"NotFound: "}}` when there is none, as
  RocksDB's status comes back from the NIF.
  """
  @spec batch_rollback(R.batch_handle()) :: :ok | {:error, term()}
  def batch_rollback(handle) do
    table = Registry.batches()
    batch = batch!(handle)

    case :ets.lookup(table, {:savepoints, batch}) do
      [] ->
        {:error, {:error, ~c"NotFound: "}}

      marks ->
        {earlier, [{_, keep}]} = Enum.split(marks, -1)
        # Marks can be alike (two with nothing added between): put back
        # all but the last rather than delete one by its value.
        :ets.delete(table, {:savepoints, batch})
        :ets.insert(table, earlier)
        ops = batch_tolist(handle)
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
  @spec batch_data_size(R.batch_handle()) :: non_neg_integer()
  def batch_data_size(batch),
    do: Enum.reduce(batch_tolist(batch), 12, &(&2 + op_size(&1)))

  defp op_size({kind, k, v}) when kind in [:put, :merge], do: 1 + sized(k) + sized(v)
  defp op_size({kind, _cf, k, v}) when kind in [:put, :merge], do: 2 + sized(k) + sized(v)
  defp op_size({kind, k}) when kind in [:delete, :single_delete], do: 1 + sized(k)
  defp op_size({kind, _cf, k}) when kind in [:delete, :single_delete], do: 2 + sized(k)
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
  @spec write_batch(R.db_handle(), R.batch_handle(), list()) :: :ok | {:error, term()}
  def write_batch(db, batch, opts) do
    result = R.write(db, batch_tolist(batch), opts)
    clear(batch!(batch))
    result
  end
end
