defmodule Store.KV.RocksDB.Iterator do
  @moduledoc false
  # erlang-rocksdb's iterators over sidecar iterators with read-ahead.
  #
  # A move that positions the iterator (first, last, seek, seek_for_prev)
  # makes one round trip and brings back the row it lands on plus rows
  # ahead in the direction of travel; :next and :prev are then served from
  # that buffer with no round trip. Past the buffer's end, the next round
  # trip asks the sidecar for the rows after (or before) the last key it
  # handed out, reading further ahead each time (3, 24, 192, 1000 rows), so
  # a walk of N rows costs O(log N) round trips. Every row comes from the
  # same RocksDB iterator, so what a walk sees is what the NIF's would: the
  # database as it was when the iterator was made, until a refresh.
  #
  # The handle is an :atomics reference (is_reference/1 holds, == compares
  # it): slot 1 is the position in the buffer (0: on no row), slot 2 the
  # buffer's generation (0: closed). The buffer itself is in an ETS table,
  # so any process can use the iterator, and each process keeps the last
  # buffers it read in its dictionary, so a :next costs two atomics reads,
  # one write and a tuple element, not an ETS copy of the buffer.

  alias Store.KV.Engine.{Caller, Wire}
  alias Store.KV.RocksDB.Registry

  @pos 1
  @gen 2
  # Rows read past the one a positioning move lands on: few, since most
  # walks stop after a row or three on a prefix test, and each row read
  # ahead delays the answer. Continuations grow by 8x up to @max_ahead:
  # 3, 24, 192, 1000 rows, so a 1000-row walk takes four round trips.
  @first_ahead 2
  @growth 8
  @max_ahead 999
  # Buffers a process keeps in its dictionary, {@cache_key, itr} each; the
  # list under @cache_key names them, most recent first.
  @cached 8
  @cache_key :spire_rocksdb_iterator_cache

  @type t :: reference()

  @doc "Makes an iterator on `name` with the wire options `wire` (cf, snapshot, bounds...)."
  @spec new(atom(), keyword()) :: {:ok, t()} | {:error, term()}
  def new(name, wire) do
    with {:ok, epoch, sid} <- open_pipelined(name, wire) do
      itr = :atomics.new(2, signed: true)
      :atomics.put(itr, @gen, 1)
      :ets.insert(Registry.iterators(), {itr, name, epoch, sid, wire})
      :ets.insert(Registry.buffers(), {itr, 1, {}, false, false, @first_ahead})
      {:ok, itr}
    end
  end

  # Ids this side chooses sit above every id the sidecar picks itself
  # (docs/protocol.md, {as, Id}).
  @chosen_ids 0x10000000000

  # The iterator is made by a request nobody waits for, under an id chosen
  # here: the first move follows it down the same stream, so an iterator's
  # life takes one round trip. The sidecar makes it in arrival order,
  # before any later request of this process, so it sees what the NIF's
  # would. Should it fail (too many iterators, a family dropped), the first
  # move finds no iterator and makes it again in a call, whose error is
  # the answer.
  defp open_pipelined(name, wire) do
    with {:ok, ctx} <- Caller.lookup(name) do
      sid = @chosen_ids + :erlang.unique_integer([:positive])
      :ok = Caller.cast_ctx(ctx, {:iterator, [{:as, sid} | wire]})
      {:ok, ctx.owner, sid}
    end
  end

  defp open_remote(name, wire) do
    with {:ok, ctx} <- Caller.lookup(name),
         {:ok, sid} <- Caller.call(name, {:iterator, wire}, nil) do
      {:ok, ctx.owner, sid}
    end
  end

  @doc "erlang-rocksdb's iterator_move/2."
  @spec move(t(), term()) ::
          {:ok, binary(), binary()} | {:error, :invalid_iterator | :iterator_closed | term()}
  def move(itr, action) when is_reference(itr) do
    case :atomics.get(itr, @gen) do
      0 -> {:error, :iterator_closed}
      gen -> do_move(itr, gen, action)
    end
  end

  def move(_itr, _action), do: :erlang.error(:badarg)

  defp do_move(itr, gen, action) when action in [:next, :prev] do
    {rows, reverse, more, ahead} = buffer(itr, gen)

    case :atomics.get(itr, @pos) do
      0 ->
        {:error, :invalid_iterator}

      pos ->
        along = action == :next != reverse
        j = if along, do: pos + 1, else: pos - 1
        n = tuple_size(rows)

        cond do
          j >= 1 and j <= n ->
            :atomics.put(itr, @pos, j)
            {k, v} = elem(rows, j - 1)
            {:ok, k, v}

          j > n and not more ->
            :atomics.put(itr, @pos, 0)
            {:error, :invalid_iterator}

          j > n ->
            {last, _} = elem(rows, n - 1)
            remote(itr, {action, last}, min(@growth * (ahead + 1) - 1, @max_ahead))

          true ->
            {first, _} = elem(rows, 0)
            remote(itr, {action, first}, @first_ahead)
        end
    end
  end

  defp do_move(itr, _gen, action) do
    case action do
      :first -> remote(itr, :first, @first_ahead)
      :last -> remote(itr, :last, @first_ahead)
      {:seek, k} when is_binary(k) -> remote(itr, {:seek, k}, @first_ahead)
      {:seek_for_prev, k} when is_binary(k) -> remote(itr, {:seek_for_prev, k}, @first_ahead)
      k when is_binary(k) -> remote(itr, {:seek, k}, @first_ahead)
      _ -> :erlang.error(:badarg)
    end
  end

  # The buffer of generation gen, from this process's cache or the table.
  defp buffer(itr, gen) do
    case Process.get({@cache_key, itr}) do
      {^itr, ^gen, rows, reverse, more, ahead} ->
        {rows, reverse, more, ahead}

      _ ->
        case :ets.lookup(Registry.buffers(), itr) do
          [{^itr, ^gen, rows, reverse, more, ahead} = entry] ->
            remember(entry)
            {rows, reverse, more, ahead}

          _ ->
            # Moved or closed by another process meanwhile: on no row.
            {{}, false, false, @first_ahead}
        end
    end
  end

  defp remember({itr, _, _, _, _, _} = entry) do
    Process.put({@cache_key, itr}, entry)

    case Process.get(@cache_key, []) do
      [^itr | _] ->
        :ok

      cached ->
        {keep, drop} = Enum.split([itr | List.delete(cached, itr)], @cached)
        for old <- drop, do: Process.delete({@cache_key, old})
        Process.put(@cache_key, keep)
    end
  end

  defp forget(itr) do
    Process.delete({@cache_key, itr})
    Process.put(@cache_key, List.delete(Process.get(@cache_key, []), itr))
  end

  defp remote(itr, move, ahead) do
    case :ets.lookup(Registry.iterators(), itr) do
      [{^itr, name, epoch, sid, wire}] -> remote(itr, name, epoch, sid, wire, move, ahead, 1)
      [] -> {:error, :iterator_closed}
    end
  end

  defp remote(itr, name, epoch, sid, wire, move, ahead, retries) do
    with {:ok, ctx, sid} <- current(itr, name, epoch, sid, wire) do
      case Caller.call_ctx(ctx, {:iterator_move, sid, move, [ahead: ahead, packed: true]}, nil) do
        {:ok, packed, more} ->
          land(itr, List.to_tuple(Wire.unpack(packed, [])), reverse?(move), more, ahead)

        {:error, {:unknown_iterator, _}} when retries > 0 ->
          # Its sidecar restarted, or its pipelined making failed or has
          # not arrived yet (a move from another process than the one that
          # made it): make it again and go on from the key it was on (a
          # keyed move needs nothing else). A making still on its way is
          # closed behind it.
          if sid >= @chosen_ids, do: Caller.cast_ctx(ctx, {:iterator_close, sid})
          remote(itr, name, nil, sid, wire, move, ahead, retries - 1)

        {:error, _} = error ->
          error
      end
    end
  end

  # The sidecar iterator of this engine incarnation: an engine restarted
  # since (a new owner process) has none, so one is made with the same
  # options. It sees the database as it is now: the one difference from
  # the NIF, whose iterator dies with its database.
  defp current(itr, name, epoch, sid, wire) do
    case Caller.lookup(name) do
      {:ok, %{owner: ^epoch} = ctx} ->
        {:ok, ctx, sid}

      {:ok, ctx} ->
        with {:ok, epoch, sid} <- open_remote(name, wire) do
          :ets.update_element(Registry.iterators(), itr, [{3, epoch}, {4, sid}])
          {:ok, ctx, sid}
        end

      error ->
        error
    end
  end

  defp reverse?(move) when move in [:last, :prev], do: true
  defp reverse?({kind, _}) when kind in [:seek_for_prev, :prev], do: true
  defp reverse?(_), do: false

  defp land(itr, rows, reverse, more, ahead) do
    gen = :atomics.add_get(itr, @gen, 1)
    entry = {itr, gen, rows, reverse, more, ahead}
    :ets.insert(Registry.buffers(), entry)
    remember(entry)

    case rows do
      {} ->
        :atomics.put(itr, @pos, 0)
        {:error, :invalid_iterator}

      _ ->
        :atomics.put(itr, @pos, 1)
        {k, v} = elem(rows, 0)
        {:ok, k, v}
    end
  end

  @doc "erlang-rocksdb's iterator_refresh/1: sees the database as it is now, unpositioned."
  @spec refresh(t()) :: :ok | {:error, term()}
  def refresh(itr) when is_reference(itr) do
    with gen when gen != 0 <- :atomics.get(itr, @gen),
         [{^itr, name, epoch, sid, wire}] <- :ets.lookup(Registry.iterators(), itr),
         {:ok, _ctx, sid} <- current(itr, name, epoch, sid, wire) do
      case Caller.call(name, {:iterator_refresh, sid}, nil) do
        :ok ->
          land(itr, {}, false, false, @first_ahead)
          :ok

        {:error, {:unknown_iterator, _}} ->
          # Gone with a restart or the reaper: a new one is as fresh.
          with {:ok, _ctx, _sid} <- current(itr, name, nil, sid, wire) do
            land(itr, {}, false, false, @first_ahead)
            :ok
          end

        error ->
          error
      end
    else
      0 -> {:error, :iterator_closed}
      [] -> {:error, :iterator_closed}
      error -> error
    end
  end

  def refresh(_itr), do: :erlang.error(:badarg)

  @doc "erlang-rocksdb's iterator_close/1; closing twice is fine."
  @spec close(t()) :: :ok
  def close(itr) when is_reference(itr) do
    if :atomics.get(itr, @gen) != 0 do
      :atomics.put(itr, @gen, 0)
      :atomics.put(itr, @pos, 0)

      case :ets.take(Registry.iterators(), itr) do
        [{^itr, name, epoch, sid, _wire}] ->
          case Caller.lookup(name) do
            {:ok, %{owner: ^epoch}} -> Caller.cast(name, {:iterator_close, sid})
            _ -> :ok
          end

        [] ->
          :ok
      end

      :ets.delete(Registry.buffers(), itr)
      forget(itr)
    end

    :ok
  end

  def close(_itr), do: :erlang.error(:badarg)

  @doc "Closes every iterator of engine `name` (its database is closing)."
  @spec close_all(atom()) :: :ok
  def close_all(name) do
    for [itr] <- :ets.match(Registry.iterators(), {:"$1", name, :_, :_, :_}), do: close(itr)
    :ok
  end
end
