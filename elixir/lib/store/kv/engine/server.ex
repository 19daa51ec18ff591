defmodule Store.KV.Engine.Server do
  @moduledoc false
  # The engine process: it owns the port, writes the requests its callers
  # send it (every one waiting in its mailbox in one write), routes each
  # reply by its id to its caller undecoded, watches the owners of
  # cursors and snapshots, and closes the sidecar on shutdown.

  use GenServer
  import Bitwise
  require Logger

  alias Store.KV.Engine.{Caller, Options, ReadCache, ReplySocket, Wire}

  @telemetry? Code.ensure_loaded?(:telemetry)
  # The most requests one write carries.
  @max_batch 64
  @side_bit Wire.side_bit()
  @worthy_bit Wire.worthy_bit()

  # A request as Caller sends it: an id below 2^59 (bit 58 its mark) and
  # where the reply goes (a pid, an alias or {pid, ref}), or id 0 and
  # nowhere (cast/2). Anything else sent to this process is ignored rather
  # than allowed to crash it later.
  defguardp request?(id, to, term)
            when is_binary(term) and is_integer(id) and
                   ((id == 0 and to == nil) or
                      (id > 0 and id < @worthy_bit * 2 and
                         (is_pid(to) or is_reference(to) or
                            (is_tuple(to) and tuple_size(to) == 2 and is_pid(elem(to, 0)) and
                               is_reference(elem(to, 1))))))

  # A plain get as Caller sends it when it waits by id: the key alone, so
  # the caller builds no request term (the engine process frames it).
  defguardp get?(id, pid, key)
            when is_integer(id) and id > 0 and id < @worthy_bit * 2 and is_pid(pid) and
                   is_binary(key)

  # Values up to this size are copied out of their frame before they go to
  # a caller that waits by id (see deliver/3).
  @own_copy_limit 4096

  @impl true
  def init(opts) do
    # terminate/2 must run on the supervisor's shutdown to close RocksDB.
    Process.flag(:trap_exit, true)
    binary = Options.binary(opts)

    if File.regular?(binary) do
      deadline = System.monotonic_time(:millisecond) + opts[:lock_timeout]
      open(binary, opts, deadline)
    else
      fail({:binary_not_found, binary})
    end
  end

  # A LOCK held by a sidecar that is still closing (its engine process died
  # and its port closed a moment ago) is waited for, up to :lock_timeout,
  # so a restart does not crash-loop against its predecessor. A LOCK that
  # cannot be opened at all (permissions) will not get better: fail now.
  defp open(binary, opts, deadline) do
    case spawn_sidecar(binary, opts) do
      {:error, {:open_failed, msg}} = error ->
        if lock_busy?(msg) and System.monotonic_time(:millisecond) < deadline do
          Process.sleep(50)
          open(binary, opts, deadline)
        else
          fail(elem(error, 1))
        end

      {:error, reason} ->
        fail(reason)

      {:ok, state} ->
        {:ok, state}
    end
  end

  # RocksDB's words for a LOCK another process (or this one) holds: flock's
  # EWOULDBLOCK, or its own table of locks. Anything else (permissions, a
  # read-only file system, a LOCK that is not a file) fails at once.
  defp lock_busy?(msg),
    do:
      msg =~ "LOCK" and
        (msg =~ "temporarily unavailable" or msg =~ "lock hold by current process")

  defp spawn_sidecar(binary, opts) do
    {replies, reply_args} =
      if opts[:reply_socket], do: ReplySocket.listen(opts[:reply_spin]), else: {nil, []}

    port =
      Port.open({:spawn_executable, binary}, [
        :binary,
        {:packet, 4},
        :exit_status,
        :use_stdio,
        # The engine process writes every request; it must never be
        # suspended on a busy port while replies wait to be routed. What
        # the port queues is bounded by the callers' requests in flight.
        {:busy_limits_port, :disabled},
        args: Options.args(opts) ++ reply_args,
        env: Options.env(opts)
      ])

    await_ready(port, ReplySocket.accept(replies), opts)
  end

  # Until the sidecar is ready its frames (log lines, then ready or an
  # error) come on stdout: the reply socket carries only replies the
  # engine process asks for later. Meanwhile it only has to accept the
  # sidecar's connection (a select on the listener says it came).
  defp await_ready(port, replies, opts) do
    receive do
      {:"$socket", _, :select, _} = msg ->
        replies =
          if ReplySocket.select?(replies, msg), do: ReplySocket.accept(replies), else: replies

        await_ready(port, replies, opts)

      {^port, {:data, <<0::64, body::binary>>}} ->
        case Wire.decode(body) do
          {:log, line} ->
            Logger.info(line)
            await_ready(port, replies, opts)

          {:ready, info} ->
            ctx = %{
              port: port,
              owner: self(),
              timeout: opts[:timeout],
              cache: ReadCache.new(opts[:read_cache_size])
            }

            Caller.publish(ctx)
            {:os_pid, os_pid} = Port.info(port, :os_pid)
            emit([:start], %{}, %{path: opts[:path], os_pid: os_pid, version: info[:version]})

            if replies != nil do
              Process.put(:"$pending", 0)
              Process.put(:"$side", 0)
            end

            {:ok,
             Map.merge(ctx, %{
               opts: opts,
               os_pid: os_pid,
               watches: %{},
               by_id: %{},
               # Only the reply socket reads the counts of pending replies.
               counted: replies != nil,
               replies: ReplySocket.accept(replies)
             })}

          {:error, reason} ->
            ReplySocket.close(replies)
            await_exit(port, 5_000)
            {:error, reason}
        end

      {^port, {:exit_status, status}} ->
        ReplySocket.close(replies)
        {:error, {:exit_status, status}}
    after
      30_000 ->
        ReplySocket.close(replies)
        Port.close(port)
        {:error, :ready_timeout}
    end
  end

  # Returning {:stop, reason} from init would send an exit signal with that
  # reason to the process that called start_link, killing it unless it
  # traps exits. OTP 25 has no init return that fails quietly, so ack the
  # error to start_link and exit normally, which links ignore. Not by
  # exit/1: gen_server catches what init raises and would ack a second
  # time, which the starter (a supervisor) logs as an unexpected message.
  defp fail(reason) do
    :proc_lib.init_ack({:error, reason})
    Process.exit(self(), :normal)
    Process.sleep(:infinity)
  end

  @impl true
  def handle_info({:"$spire", id, to, term} = request, state) when request?(id, to, term),
    do: write(request, state)

  def handle_info({:"$spire_get", id, pid, key} = request, state) when get?(id, pid, key),
    do: write(request, state)

  # A caller that timed out (Caller): its reply, if it comes, goes nowhere,
  # and the caller learns that after any reply already sent to it.
  def handle_info({:"$spire_cancel", id, pid, ref}, state)
      when is_integer(id) and is_pid(pid) and (is_reference(ref) or ref == nil) do
    take(id, state.counted)
    take(id ||| @side_bit, state.counted)
    cancelled(pid, id, ref)
    {:noreply, state}
  end

  def handle_info({:"$socket", _, :select, _} = msg, state) do
    if ReplySocket.select?(state.replies, msg) do
      {:noreply, %{state | replies: ReplySocket.selected(state.replies, frames_fun(state))}}
    else
      {:noreply, state}
    end
  end

  def handle_info({port, {:data, frame}}, %{port: port} = state) do
    frame(frame, state)
    {:noreply, state}
  end

  def handle_info({port, {:exit_status, status}}, %{port: port} = state) do
    state = read_last_replies(state)
    Logger.error("spire-port (os pid #{state.os_pid}) exited with status #{status}")
    emit([:down], %{}, %{path: state.opts[:path], status: status})
    {:stop, {:engine_exit, status}, %{state | port: nil}}
  end

  def handle_info({:DOWN, mref, :process, _pid, _}, state) do
    case Map.pop(state.watches, mref) do
      {nil, _} ->
        {:noreply, state}

      {{kind, id}, watches} ->
        fire_and_forget(
          state,
          if(kind == :cursor, do: {:iter_close, id}, else: {:snapshot_close, id})
        )

        {:noreply, %{state | watches: watches, by_id: Map.delete(state.by_id, {kind, id})}}
    end
  end

  # A write to a sidecar that just died can close the port (epipe) before
  # its exit status arrives; either way the engine is down.
  def handle_info({:EXIT, port, reason}, %{port: port} = state) do
    state = read_last_replies(state)
    Logger.error("spire-port (os pid #{state.os_pid}) port closed: #{inspect(reason)}")
    emit([:down], %{}, %{path: state.opts[:path], status: reason})
    {:stop, {:engine_exit, reason}, %{state | port: nil}}
  end

  def handle_info({:EXIT, _, _}, state), do: {:noreply, state}
  def handle_info(_msg, state), do: {:noreply, state}

  # Id 0 carries log lines, and the replies to fire-and-forget requests
  # (closing a dead caller's cursor, {close}), which nobody waits for.
  defp frame(<<0::64, body::binary>>, state) do
    case Wire.decode(body) do
      {:log, line} ->
        Logger.info(line, spire_port: state.os_pid)

      {:backup_progress, %{dir: dir, bytes: bytes}} ->
        emit([:backup, :progress], %{bytes: bytes}, %{dir: dir, path: state.opts[:path]})

      _reply ->
        :ok
    end
  end

  # Several replies ready at once arrive as one batch frame: a run of
  # <<length::32, id::64, term>> entries behind the id 2^64-1.
  # A batch that stops making sense (the sidecar never sends one) costs
  # the replies in its rest, which time out; never the engine process.
  defp frame(<<0xFFFFFFFFFFFFFFFF::64, entries::binary>>, %{counted: counted} = state) do
    with {:error, {:malformed_batch, left}} <-
           Wire.each_entry(entries, &route(&1, &2, &3, counted)) do
      Logger.error(
        "spire-port (os pid #{state.os_pid}) sent a malformed batch frame; its last #{left} bytes dropped"
      )
    end
  end

  defp frame(<<more::1, id::63, body::binary>>, state), do: route(more, id, body, state.counted)
  # The sidecar never sends a frame without an id; if one came, it is noise.
  defp frame(_short, _state), do: :ok

  defp frames_fun(state), do: fn frames -> Enum.each(frames, &frame(&1, state)) end

  defp after_write(%{replies: nil} = state), do: state

  defp after_write(state),
    do: %{state | replies: ReplySocket.after_write(state.replies, frames_fun(state))}

  # The sidecar is gone: every reply it wrote is in the socket, and goes to
  # its caller before the pending ones learn the engine is down.
  defp read_last_replies(%{replies: nil} = state), do: state

  defp read_last_replies(state) do
    ReplySocket.read(state.replies, frames_fun(state))
    ReplySocket.close(state.replies)
    %{state | replies: nil}
  end

  @impl true
  def handle_cast({:watch, pid, kind, id}, state) do
    mref = Process.monitor(pid)

    {:noreply,
     %{
       state
       | watches: Map.put(state.watches, mref, {kind, id}),
         by_id: Map.put(state.by_id, {kind, id}, mref)
     }}
  end

  def handle_cast({:unwatch, kind, id}, state) do
    case Map.pop(state.by_id, {kind, id}) do
      {nil, _} ->
        {:noreply, state}

      {mref, by_id} ->
        Process.demonitor(mref, [:flush])
        {:noreply, %{state | by_id: by_id, watches: Map.delete(state.watches, mref)}}
    end
  end

  # The pending requests live in the process dictionary, id => where the
  # reply goes (an alias, or {pid, ref}): the cheapest table this process
  # can keep. The last (or only) reply of a request takes its entry out,
  # so a caller that died leaves nothing behind (a reply to a dead process
  # or an inactive alias is dropped; one that timed out cancels); frames
  # flagged "more" (a scan's batches but the last) leave it in place.
  defp route(0, id, body, counted) do
    case take(id, counted) do
      nil -> :ok
      to -> deliver(to, id, body)
    end
  end

  defp route(_more, id, body, _counted) do
    case Process.get(id) do
      nil -> :ok
      to -> deliver(to, id, body)
    end
  end

  # A caller waiting by id (a pid, Caller's usual way) gets
  # {:"$spire_reply", id, reply} with its own id, and a value reply as the
  # {:ok, value} it returns, the value in a binary of its own: a caller
  # that keeps what it reads then holds one off-heap binary per value, not
  # a sub-binary and the frame under it, and decodes nothing. The others
  # (an alias, {pid, ref}) get {ref, body} to decode.
  defp deliver(pid, id, msg) when is_binary(msg) and is_pid(pid),
    do: send(pid, {:"$spire_reply", id &&& @side_bit - 1, Wire.own(msg, @own_copy_limit)})

  defp deliver(pid, id, msg) when is_pid(pid),
    do: send(pid, {:"$spire_reply", id &&& @side_bit - 1, msg})

  defp deliver({pid, ref}, _id, msg), do: send(pid, {ref, msg})
  defp deliver(ref, _id, msg), do: send(ref, {ref, msg})

  defp cancelled(pid, id, nil), do: send(pid, {:"$spire_reply", id, :cancelled})
  defp cancelled(pid, _id, ref), do: send(pid, {ref, :cancelled})

  defp take(id, false), do: Process.delete(id)

  defp take(id, true) do
    case Process.delete(id) do
      nil ->
        nil

      to ->
        Process.put(:"$pending", Process.get(:"$pending") - 1)
        if id >= @side_bit, do: Process.put(:"$side", Process.get(:"$side") - 1)
        to
    end
  end

  # The replies still expected: the reply socket polls and arms its select
  # only while there are some. Without the socket nothing reads the counts.
  defp register(id, to, false) do
    Process.put(id, to)
    id
  end

  defp register(id, to, true) do
    if Process.put(id, to) == nil do
      Process.put(:"$pending", Process.get(:"$pending") + 1)
      if id >= @side_bit, do: Process.put(:"$side", Process.get(:"$side") + 1)
    end

    id
  end

  # The replies of a request written while nothing else is in flight and
  # no other process wants to run come on the reply socket, which this
  # process then polls (ReplySocket): the one case where the reply is
  # faster to fetch than to be woken for. Under load they take stdout.
  defp side_channel(%{replies: %{sock: sock, dead: false}}) when sock != nil do
    if Process.get(:"$pending") == 0 and :erlang.statistics(:total_active_tasks) <= 1,
      do: @side_bit,
      else: 0
  end

  defp side_channel(_state), do: 0

  # Only requests their caller marked as worth it (bit 58, Caller) ask.
  defp side_id(id, side) when (id &&& @worthy_bit) != 0, do: id ||| side
  defp side_id(id, _side), do: id

  defp write(request, state) do
    side = side_channel(state)
    drain(state, [entry(request, side, state.counted)], 1, side)
    {:noreply, if(side == 0, do: state, else: after_write(state))}
  end

  # A request's entry, registered under its id (with the reply socket's
  # bit when it takes it). Id 0 (cast/2) is never registered: its reply is
  # dropped.
  defp entry({:"$spire", 0, nil, term}, _side, _counted), do: Wire.entry(0, term)

  defp entry({:"$spire", id, to, term}, side, counted),
    do: Wire.entry(register(side_id(id, side), to, counted), term)

  defp entry({:"$spire_get", id, pid, key}, side, counted),
    do: Wire.get_entry(register(side_id(id, side), pid, counted), key)

  # Requests waiting in the mailbox go to the port together: one write and
  # one batch frame (<<length::32, id::64, term>> entries behind the id
  # 2^64-1, the mirror of a batch reply) instead of one of each per caller.
  defp drain(state, acc, n, side) when n < @max_batch do
    receive do
      {:"$spire", id, to, term} = request when request?(id, to, term) ->
        drain(state, [entry(request, side, state.counted) | acc], n + 1, side)

      {:"$spire_get", id, pid, key} = request when get?(id, pid, key) ->
        drain(state, [entry(request, side, state.counted) | acc], n + 1, side)
    after
      0 -> command(state.port, Wire.frames(acc))
    end
  end

  defp drain(state, acc, _n, _side), do: command(state.port, Wire.frames(acc))

  # A port that just closed raises; its exit message follows and stops the
  # engine, which then answers every pending caller.
  defp command(port, iodata) do
    Port.command(port, iodata)
  rescue
    ArgumentError -> false
  end

  defp fire_and_forget(%{port: port}, request) when port != nil do
    # Id 0 is never registered, so the reply is dropped.
    Port.command(port, [<<0::64>> | :erlang.term_to_binary(request)])
  rescue
    ArgumentError -> :ok
  end

  defp fire_and_forget(_, _), do: :ok

  @impl true
  def terminate(_reason, state) do
    Caller.unpublish()
    answer_pending()

    if state.port do
      # {:close} makes the sidecar finish what is in flight, close RocksDB
      # (releasing its LOCK) and exit; waiting for the exit status means a
      # restarted engine never meets a stale LOCK.
      fire_and_forget(state, {:close})

      unless await_exit(state.port, 25_000) do
        Logger.error("spire-port (os pid #{state.os_pid}) did not exit in 25 s; killing it")
        System.cmd("kill", ["-KILL", Integer.to_string(state.os_pid)])
      end
    end

    :ok
  end

  # Every caller still waiting, registered or with its request still in the
  # mailbox, learns at once that the engine is going away.
  defp answer_pending do
    for {id, to} when is_integer(id) <- Process.get() do
      Process.delete(id)
      deliver(to, id, :engine_down)
    end

    answer_mailbox()
  end

  defp answer_mailbox do
    receive do
      {:"$spire", _id, nil, _term} ->
        answer_mailbox()

      {:"$spire", id, to, _term} ->
        deliver(to, id, :engine_down)
        answer_mailbox()

      {:"$spire_get", id, pid, _key} ->
        deliver(pid, id, :engine_down)
        answer_mailbox()

      {:"$spire_cancel", id, pid, ref} ->
        cancelled(pid, id, ref)
        answer_mailbox()
    after
      0 -> :ok
    end
  end

  defp await_exit(port, timeout) do
    receive do
      {^port, {:exit_status, _}} -> true
    after
      timeout -> false
    end
  end

  defp emit(event, measurements, metadata) do
    if @telemetry? do
      # credo:disable-for-next-line
      apply(:telemetry, :execute, [[:store, :kv, :engine | event], measurements, metadata])
    end

    :ok
  end
end
