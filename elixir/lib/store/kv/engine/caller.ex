defmodule Store.KV.Engine.Caller do
  @moduledoc false
  # The calling side of Store.KV.Engine: finding an engine, sending a
  # request through its process and waiting for the reply (or the replies
  # of a scan), and the options every call takes. Runs in the caller.

  import Bitwise

  alias Store.KV.Engine.{ReadCache, Wire}

  # Marks a request the reply socket may answer (see submit/3).
  @worthy_bit Wire.worthy_bit()

  @doc false
  @spec badarg(String.t()) :: {:error, {:badarg, String.t()}}
  def badarg(msg), do: {:error, {:badarg, msg}}

  # Splits opts into the sidecar's options and the call timeout.
  @doc false
  @spec wire_opts(term(), [atom()]) ::
          {:ok, keyword(), timeout() | nil} | {:error, Store.KV.Engine.reason()}
  def wire_opts(opts, allowed) when is_list(opts) do
    Enum.reduce_while(opts, {:ok, [], nil}, fn
      {:timeout, t}, {:ok, wire, _} when (is_integer(t) and t > 0) or t == :infinity ->
        {:cont, {:ok, wire, t}}

      {key, value} = opt, {:ok, wire, t} ->
        if key in allowed and valid_opt?(key, value) do
          {:cont, {:ok, [wire_opt(opt) | wire], t}}
        else
          {:halt,
           badarg("invalid option #{inspect(opt)}; accepted: #{inspect([:timeout | allowed])}")}
        end

      other, _ ->
        {:halt, badarg("invalid option #{inspect(other)}")}
    end)
  end

  def wire_opts(opts, _allowed),
    do: badarg("options must be a keyword list, got: #{inspect(opts)}")

  defp valid_opt?(:cf, v), do: cf?(v)
  defp valid_opt?(:sync, v), do: is_boolean(v)
  defp valid_opt?(:disable_wal, v), do: is_boolean(v)
  defp valid_opt?(:snapshot, {:snapshot, id}), do: is_integer(id) and id > 0
  defp valid_opt?(:batch_size, v), do: is_integer(v) and v > 0 and v <= 100_000
  defp valid_opt?(:limit, v), do: is_integer(v) and v >= 0 and v < 0x8000000000000000
  defp valid_opt?(_, _), do: false

  defp wire_opt({:snapshot, {:snapshot, id}}), do: {:snapshot, id}
  defp wire_opt(opt), do: opt

  @typedoc false
  @type ctx :: %{port: port(), owner: pid(), timeout: timeout()}

  @doc false
  @spec lookup(Store.KV.Engine.engine()) :: {:ok, ctx()} | {:error, :engine_down}
  def lookup(engine) do
    case ctx(engine) do
      nil -> {:error, :engine_down}
      ctx -> {:ok, ctx}
    end
  end

  # An engine's context is kept in :persistent_term under its process's
  # pid, a key no other owner can have, and one built without allocating
  # (a tuple key would be garbage on every call).
  @doc false
  @spec ctx(Store.KV.Engine.engine()) :: ctx() | nil
  def ctx(engine) do
    case GenServer.whereis(engine) do
      pid when is_pid(pid) -> :persistent_term.get(pid, nil)
      _ -> nil
    end
  end

  @doc false
  @spec publish(ctx()) :: :ok
  def publish(ctx), do: :persistent_term.put(ctx.owner, ctx)

  @doc false
  @spec unpublish() :: boolean()
  def unpublish, do: :persistent_term.erase(self())

  # Sends a request and waits for its one reply.
  @doc false
  @spec call(Store.KV.Engine.engine(), tuple(), timeout() | nil) :: term()
  def call(engine, request, timeout) do
    with {:ok, ctx} <- lookup(engine), do: call_ctx(ctx, request, timeout)
  end

  # How long a caller waits before it starts watching the engine process.
  # Monitoring it on every call would cost the engine process two signals
  # per request; a reply almost always comes sooner than this.
  @watch_after 100

  @doc false
  @spec call_ctx(ctx(), tuple(), timeout() | nil) :: term()
  def call_ctx(ctx, request, timeout) do
    if mailbox_empty?(),
      do: call_by_id(ctx, request, timeout || ctx.timeout),
      else: call_by_ref(ctx, request, timeout || ctx.timeout)
  end

  # A plain get ({:get, key, []}), the commonest call: by id, the key
  # alone goes to the engine process, which frames it.
  @doc false
  @spec get_ctx(ctx(), binary()) :: term()
  def get_ctx(ctx, key) do
    if mailbox_empty?() do
      id = new_id(true)
      send(ctx.owner, {:"$spire_get", id, self(), key})
      await_id(ctx, id, ctx.timeout)
    else
      call_by_ref(ctx, {:get, key, []}, ctx.timeout)
    end
  end

  # Whether a reply can be waited for by id (see call_by_id/3).
  defp mailbox_empty?, do: Process.info(self(), :message_queue_len) == {:message_queue_len, 0}

  # The usual call: the reply comes to this pid as {:"$spire_reply", id,
  # reply}, a value already as the {:ok, value} to return (the engine
  # process builds it). A reference, the {pid, ref} it travels in and a
  # reply to decode would be garbage on every call, and a caller that
  # keeps what it reads collects its whole heap as often as garbage fills
  # it. Matching on the id scans only the messages that arrive during the
  # wait: the mailbox was empty when the request went.
  defp call_by_id(ctx, request, timeout) do
    await_id(ctx, submit(ctx, self(), request), timeout)
  end

  defp await_id(ctx, id, timeout) do
    receive do
      {:"$spire_reply", ^id, reply} -> reply(reply)
    after
      min(timeout, @watch_after) ->
        if timeout == :infinity or timeout > @watch_after,
          do: await_id_watching(ctx, id, sub(timeout, @watch_after)),
          else: cancel(ctx, id, nil, {:error, :timeout})
    end
  end

  defp await_id_watching(ctx, id, timeout) do
    mref = Process.monitor(ctx.owner)

    receive do
      {:"$spire_reply", ^id, reply} ->
        Process.demonitor(mref, [:flush])
        reply(reply)

      {:DOWN, ^mref, _, _, _} ->
        {:error, :engine_down}
    after
      timeout ->
        Process.demonitor(mref, [:flush])
        cancel(ctx, id, nil, {:error, :timeout})
    end
  end

  defp reply(body) when is_binary(body), do: Wire.decode(body)
  defp reply(:engine_down), do: {:error, :engine_down}
  defp reply(decoded), do: decoded

  # With messages already waiting, a reference made now lets the receive
  # skip them all (OTP's receive marker), where an id would scan them on
  # every call. The reply comes to {pid, ref}, not to an alias: an alias
  # is several times dearer to make, send to and retire than a plain
  # reference. What an alias gave for free, that no late reply lands in
  # the mailbox after a timeout, cancel/4 does.
  defp call_by_ref(ctx, request, timeout) do
    ref = make_ref()
    id = submit(ctx, {self(), ref}, request)

    case await(ctx, ref, timeout) do
      {:ok, body} -> Wire.decode(body)
      {:error, :timeout} = error -> cancel(ctx, id, ref, error)
      error -> error
    end
  end

  # How long a caller that timed out waits for the engine process to
  # confirm that it dropped the request. The engine process answers within
  # microseconds unless it is stopping (it then waits for the sidecar to
  # exit, and its exit ends the wait too); past this, a late reply may
  # still land in the mailbox, as it did before OTP's aliases.
  @cancel_wait 1_000

  # The engine process drops the request's entry and answers that it did
  # (to the id, or to ref) after whatever reply it already routed
  # (messages between two processes keep their order), so once that
  # answer is in, or the engine process is gone, no reply can follow and
  # the mailbox is flushed of any that came.
  defp cancel(ctx, id, ref, result) do
    mref = Process.monitor(ctx.owner)
    send(ctx.owner, {:"$spire_cancel", id, self(), ref})

    receive do
      {^ref, :cancelled} when ref != nil -> :ok
      {:"$spire_reply", ^id, :cancelled} when ref == nil -> :ok
      {:DOWN, ^mref, _, _, _} -> :ok
    after
      @cancel_wait -> :ok
    end

    Process.demonitor(mref, [:flush])
    if ref, do: flush_replies(ref), else: flush_id(id)
    result
  end

  defp flush_id(id) do
    receive do
      {:"$spire_reply", ^id, _} -> flush_id(id)
    after
      0 -> :ok
    end
  end

  # A write tells the read cache, once it is answered (also with an error
  # or a timeout: it may still have been applied) and before its caller
  # hears of it; see Store.KV.Engine.ReadCache.
  @doc false
  @spec write(
          Store.KV.Engine.Store.KV.Engine.engine(),
          tuple(),
          timeout() | nil,
          (term() -> any())
        ) :: term()
  def write(engine, request, timeout, written) do
    with {:ok, ctx} <- lookup(engine) do
      result = call_ctx(ctx, request, timeout)
      written.(ctx.cache)
      result
    end
  end

  @doc false
  def batch_written(nil, _ops), do: :ok

  def batch_written(cache, ops) do
    Enum.each(ops, fn
      {:put, k, _} -> ReadCache.written(cache, k)
      {:delete, k} -> ReadCache.written(cache, k)
      {:single_delete, k} -> ReadCache.written(cache, k)
      {:merge, k, _} -> ReadCache.written(cache, k)
      {:delete_range, _, _} -> ReadCache.written_all(cache)
      _other_family -> :ok
    end)
  end

  # A request answered by several frames ({:rows, ...} then {:done, ...}).
  @doc false
  @spec stream_call(Store.KV.Engine.Store.KV.Engine.engine(), tuple(), timeout() | nil) :: term()
  def stream_call(engine, request, timeout) do
    with {:ok, ctx} <- lookup(engine),
         {:ok, ref} <- send_request(ctx, request) do
      finish(ref, collect(ctx, ref, timeout || ctx.timeout, [], 0))
    end
  end

  # Frames are kept undecoded (refc binaries) until the last arrives: their
  # row counts are read from each packed frame's Count, the heap is sized for the
  # whole result, and only then are they decoded. Decoding as they came
  # made the caller's heap grow by repeated garbage collections, which
  # halved the throughput of a 200k-row scan.
  defp collect(ctx, ref, timeout, frames, rows) do
    with {:ok, frame} <- await(ctx, ref, timeout) do
      case Wire.packed_count(frame) do
        {"rows", count} -> collect(ctx, ref, timeout, [frame | frames], rows + count)
        {"done", count} -> decode_batches([frame | frames], rows + count)
        nil -> Wire.decode(frame)
      end
    end
  end

  # ~20 words per row (list cell, tuple, two sub-binaries of the frame).
  @words_per_row 24
  @max_presize 32_000_000

  @presize_from 5_000

  defp decode_batches(frames, rows) when rows < @presize_from, do: {:ok, decode_frames(frames)}

  defp decode_batches(frames, rows) do
    old = Process.flag(:min_heap_size, min(rows * @words_per_row, @max_presize))

    try do
      {:ok, decode_frames(frames)}
    after
      Process.flag(:min_heap_size, old)
    end
  end

  # frames are newest first; the batches come out oldest first.
  defp decode_frames(frames) do
    Enum.reduce(frames, [], fn frame, acc ->
      case Wire.decode_batch(frame) do
        {_, [], _} -> acc
        {_, rows, stats} -> [{rows, stats} | acc]
      end
    end)
  end

  # Sends a request whose reply nobody waits for (id 0): closing an
  # iterator. It goes through the engine process, after the requests
  # already waiting there.
  @doc false
  @spec cast(Store.KV.Engine.engine(), tuple()) :: :ok | {:error, :engine_down}
  def cast(engine, request) do
    with {:ok, ctx} <- lookup(engine), do: cast_ctx(ctx, request)
  end

  @doc false
  @spec cast_ctx(ctx(), tuple()) :: :ok
  def cast_ctx(ctx, request) do
    send(ctx.owner, {:"$spire", 0, nil, :erlang.term_to_binary(request)})
    :ok
  end

  # A request answered by several frames goes to an alias: a caller that
  # stops reading them (a stream left early) unaliases, and the frames
  # still coming are dropped instead of filling its mailbox.
  @doc false
  @spec send_request(ctx(), tuple()) :: {:ok, reference()}
  def send_request(ctx, request) do
    ref = :erlang.alias()
    submit(ctx, ref, request)
    {:ok, ref}
  end

  # The engine process writes requests to the port, several in one write
  # when several callers are waiting (see handle_info/2), and sends each
  # reply to `to`, an alias or {pid, ref}. Ids stay below 2^58: the top bit
  # of a reply id is the "more" flag, bit 62 the engine process's request
  # for a reply on the reply socket, and bit 58 says the request may take
  # it (below 2^59 an id is still a small integer, not a bignum). Returns
  # the id.
  defp submit(ctx, to, request) do
    id = new_id(socket_worthy?(request))
    send(ctx.owner, {:"$spire", id, to, :erlang.term_to_binary(request)})
    id
  end

  defp new_id(worthy?) do
    id = :erlang.unique_integer([:positive]) &&& @worthy_bit - 1
    if worthy?, do: id ||| @worthy_bit, else: id
  end

  # The reply socket pays for requests RocksDB serves with a small reply:
  # they take a few µs, too long for the BEAM's fast path on the port. A
  # ping is answered before it is missed; long replies (scans, read-ahead
  # beyond a few rows) are framed faster by the port driver than in Elixir.
  defp socket_worthy?({op, _}) when op in [:iterator, :iterator_refresh], do: true
  defp socket_worthy?({op, _, _}) when op in [:get, :delete, :multi_get], do: true
  defp socket_worthy?({:put, _, _, _}), do: true
  defp socket_worthy?({:iterator_move, _, _, [{:ahead, ahead} | _]}), do: ahead <= 24
  defp socket_worthy?(_request), do: false

  @doc false
  @spec await(ctx(), reference(), timeout()) ::
          {:ok, binary()} | {:error, :engine_down | :timeout}
  def await(ctx, ref, timeout) do
    receive do
      {^ref, body} when is_binary(body) -> {:ok, body}
      {^ref, :engine_down} -> {:error, :engine_down}
    after
      min(timeout, @watch_after) ->
        if timeout == :infinity or timeout > @watch_after,
          do: await_watching(ctx, ref, sub(timeout, @watch_after)),
          else: {:error, :timeout}
    end
  end

  defp sub(:infinity, _), do: :infinity
  defp sub(t, d), do: t - d

  # The engine tells its callers when the sidecar goes down; a monitor
  # covers the engine process itself dying (a monitor on a process that
  # is already gone fires at once).
  defp await_watching(ctx, ref, timeout) do
    mref = Process.monitor(ctx.owner)

    receive do
      {^ref, body} when is_binary(body) -> {:ok, body}
      {^ref, :engine_down} -> {:error, :engine_down}
      {:DOWN, ^mref, _, _, _} -> {:error, :engine_down}
    after
      timeout -> {:error, :timeout}
    end
    |> tap(fn _ -> Process.demonitor(mref, [:flush]) end)
  end

  # Forgets a request: the alias stops accepting replies (the engine drops
  # its entry when the last one comes) and one already delivered is flushed.
  @doc false
  @spec finish(reference(), result) :: result when result: term()
  def finish(ref, result) do
    :erlang.unalias(ref)
    flush_replies(ref)
    result
  end

  defp flush_replies(ref) do
    receive do
      {^ref, _} -> flush_replies(ref)
    after
      0 -> :ok
    end
  end

  @doc false
  @spec watch(Store.KV.Engine.engine(), :cursor | :snapshot, pos_integer()) ::
          :ok | {:error, :engine_down}
  def watch(engine, kind, id) do
    with {:ok, ctx} <- lookup(engine), do: GenServer.cast(ctx.owner, {:watch, self(), kind, id})
  end

  @doc false
  @spec unwatch(Store.KV.Engine.engine(), :cursor | :snapshot, pos_integer()) ::
          :ok | {:error, :engine_down}
  def unwatch(engine, kind, id) do
    with {:ok, ctx} <- lookup(engine), do: GenServer.cast(ctx.owner, {:unwatch, kind, id})
  end

  defp cf?(cf), do: is_binary(cf) and cf != ""
end
