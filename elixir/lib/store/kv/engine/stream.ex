defmodule Store.KV.Engine.Stream do
  @moduledoc false
  # scan_stream/4: a Stream.resource over a sidecar cursor. While the
  # consumer works on one batch, the request for the next is already in
  # flight, so the sidecar and the consumer overlap.

  alias Store.KV.Engine
  alias Store.KV.Engine.{Caller, Wire}

  @spec new(Engine.engine(), binary(), binary(), keyword()) :: Enumerable.t()
  def new(engine, start_key, end_key, opts) do
    Stream.resource(
      fn -> open(engine, start_key, end_key, opts) end,
      &next/1,
      &close/1
    )
  end

  defp open(engine, start_key, end_key, opts) do
    with {:ok, wire, timeout} <- Caller.wire_opts(opts, [:cf, :snapshot, :batch_size, :limit]),
         {:ok, ctx} <- Caller.lookup(engine),
         {:ok, cursor} <-
           Caller.call(
             engine,
             {:iter_open, start_key, end_key, [{:packed, true} | wire]},
             timeout
           ) do
      Caller.watch(engine, :cursor, cursor)

      %{
        engine: engine,
        ctx: ctx,
        cursor: cursor,
        timeout: timeout || ctx.timeout,
        pending: request(ctx, cursor),
        done: false
      }
    else
      {:error, reason} -> raise Store.KV.Engine.Error, reason: reason
    end
  end

  defp request(ctx, cursor) do
    {:ok, ref} = Caller.send_request(ctx, {:iter_next, cursor})
    ref
  end

  defp next(%{done: true} = state), do: {:halt, state}

  defp next(%{pending: ref} = state) do
    reply =
      case Caller.finish(ref, Caller.await(state.ctx, ref, state.timeout)) do
        {:ok, body} -> Wire.decode_batch(body)
        error -> error
      end

    case reply do
      {:rows, rows, _stats} ->
        {rows, %{state | pending: request(state.ctx, state.cursor)}}

      {:done, rows, _stats} ->
        # The sidecar closed the cursor with its last batch.
        Caller.unwatch(state.engine, :cursor, state.cursor)
        {rows, %{state | pending: nil, done: true}}

      {:error, reason} ->
        raise Store.KV.Engine.Error, reason: reason
    end
  end

  defp close(%{done: true}), do: :ok

  defp close(state) do
    if ref = state.pending, do: Caller.finish(ref, :ok)
    Caller.unwatch(state.engine, :cursor, state.cursor)
    Caller.call(state.engine, {:iter_close, state.cursor}, state.timeout)
    :ok
  end
end
