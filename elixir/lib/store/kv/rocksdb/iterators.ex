defmodule Store.KV.RocksDB.Iterators do
  @moduledoc false
  # Iterators (read-ahead, see Store.KV.RocksDB.Iterator) and the folds over them.

  use Store.KV.RocksDB.Handles
  alias Store.KV.RocksDB.Iterator

  @doc "An iterator over the default column family (unpositioned until its first move)."
  @spec iterator(R.db_handle(), list()) :: {:ok, R.itr_handle()} | {:error, term()}
  def iterator(db, opts) do
    name = engine!(db)
    handle(db, checked(name, Iterator.new(name, iterator_opts(name, opts, nil))))
  end

  @doc "An iterator over a column family."
  @spec iterator(R.db_handle(), R.cf_handle(), list()) :: {:ok, R.itr_handle()} | {:error, term()}
  def iterator(db, cf, opts) do
    name = engine!(db)
    handle(db, checked(name, Iterator.new(name, iterator_opts(name, opts, cf_opt(name, cf)))))
  end

  @doc """
  Iterators over several column families (`:default_column_family` or
  handles), in order, each as `iterator/3` makes it.
  """
  @spec iterators(R.db_handle(), [R.cf_handle()], list()) ::
          {:ok, [R.itr_handle()]} | {:error, term()}
  def iterators(db, cfs, opts) when is_list(cfs) do
    name = engine!(db)
    families = for cf <- Args.opts!(cfs), do: cf_opt(name, cf)
    opts = Args.opts!(opts)

    Enum.reduce_while(families, {:ok, []}, fn family, {:ok, acc} ->
      case handle(db, checked(name, Iterator.new(name, iterator_opts(name, opts, family)))) do
        {:ok, itr} -> {:cont, {:ok, [itr | acc]}}
        error -> {:halt, error}
      end
    end)
    |> case do
      {:ok, itrs} -> {:ok, Enum.reverse(itrs)}
      error -> error
    end
  end

  @doc "An iterator over the default column family as a transaction sees it (its own writes included)."
  @spec transaction_iterator(tuple(), list()) :: {:ok, R.itr_handle()} | {:error, term()}
  def transaction_iterator(txn, opts), do: transaction_iterator(txn, :default_column_family, opts)

  @doc "As `transaction_iterator/2`, over a column family."
  @spec transaction_iterator(tuple(), R.cf_handle(), list()) ::
          {:ok, R.itr_handle()} | {:error, term()}
  def transaction_iterator({@txn, name, id, life}, cf, opts) when is_atom(name) do
    unless Life.armed?(life), do: :erlang.error(:badarg)
    wire = [{:txn, id} | iterator_opts(name, opts, cf_opt(name, cf))]

    with {:ok, itr} <- checked(name, Iterator.new(name, wire)),
         do: {:ok, {@itr, itr, new_life({:itr, itr}, life)}}
  end

  def transaction_iterator(_txn, _cf, _opts), do: :erlang.error(:badarg)

  # An iterator lives while its handle does, and keeps its database open.
  defp handle(db, {:ok, itr}), do: {:ok, {@itr, itr, new_life({:itr, itr}, life(db))}}
  defp handle(_db, error), do: error

  # Read options the sidecar applies; others are accepted and ignored, as
  # the NIF ignores what it does not know.
  defp iterator_opts(name, opts, cf) when is_list(opts) do
    base = if cf, do: [cf: cf], else: []

    Enum.reduce(Args.opts!(opts), base, fn
      {:snapshot, snap}, acc ->
        [{:snapshot, snapshot_id!(name, snap)} | acc]

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
  @spec iterator_move(R.itr_handle(), term()) ::
          {:ok, binary(), binary()} | {:error, :invalid_iterator | :iterator_closed | term()}
  def iterator_move({@itr, itr, _life}, action) do
    case Iterator.move(itr, action) do
      # A closed NIF iterator is no iterator: badarg.
      {:error, :iterator_closed} -> :erlang.error(:badarg)
      result -> result
    end
  end

  def iterator_move(_itr, _action), do: :erlang.error(:badarg)

  @doc "Makes an iterator see the database as it is now; it is unpositioned after."
  @spec iterator_refresh(R.itr_handle()) :: :ok | {:error, term()}
  def iterator_refresh({@itr, itr, _life}) do
    case Iterator.refresh(itr) do
      {:error, :iterator_closed} -> :erlang.error(:badarg)
      result -> result
    end
  end

  def iterator_refresh(_itr), do: :erlang.error(:badarg)

  @doc "Closes an iterator; closing twice is fine."
  @spec iterator_close(R.itr_handle()) :: :ok
  def iterator_close({@itr, itr, life}) do
    Life.disarm(life)
    Iterator.close(itr)
  end

  def iterator_close(_itr), do: :erlang.error(:badarg)

  ## Folds (erlang-rocksdb's deprecated whole-family walks)

  @doc """
  Calls `fun.({key, value}, acc)` on every row of the default column
  family in key order, starting from `acc0`; returns the last accumulator.
  Walks an iterator made with `read_opts` and closes it.
  """
  @spec fold(R.db_handle(), (term(), term() -> term()), term(), list()) :: term()
  def fold(db, fun, acc0, read_opts) when is_function(fun, 2) do
    {:ok, itr} = iterator(db, read_opts)
    fold_rows(itr, fun, acc0)
  end

  @doc "As `fold/4`, over a column family."
  @spec fold(R.db_handle(), R.cf_handle(), (term(), term() -> term()), term(), list()) :: term()
  def fold(db, cf, fun, acc0, read_opts) when is_function(fun, 2) do
    {:ok, itr} = iterator(db, cf, read_opts)
    fold_rows(itr, fun, acc0)
  end

  @doc "As `fold/4`, calling `fun.(key, acc)`."
  @spec fold_keys(R.db_handle(), (binary(), term() -> term()), term(), list()) :: term()
  def fold_keys(db, fun, acc0, read_opts) when is_function(fun, 2),
    do: fold(db, fn {k, _v}, acc -> fun.(k, acc) end, acc0, read_opts)

  @doc "As `fold_keys/4`, over a column family."
  @spec fold_keys(R.db_handle(), R.cf_handle(), (binary(), term() -> term()), term(), list()) ::
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
  @spec count(R.db_handle()) :: non_neg_integer() | {:error, term()}
  def count(db), do: count_of(R.get_property(db, "rocksdb.estimate-num-keys"))

  @doc "As `count/1`, for a column family."
  @spec count(R.db_handle(), R.cf_handle()) :: non_neg_integer() | {:error, term()}
  def count(db, cf), do: count_of(R.get_property(db, cf, "rocksdb.estimate-num-keys"))

  defp count_of({:ok, n}), do: String.to_integer(n)
  defp count_of(error), do: error
end
