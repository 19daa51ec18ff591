defmodule Store.KV.Engine.ReplySocket do
  @moduledoc false
  # A lone caller's small replies over a Unix socket instead of the port's
  # stdout.
  #
  # Why: a reply on the port is read when the BEAM's poll thread sees the
  # pipe readable and wakes a scheduler, several µs after the sidecar wrote
  # it, on every read RocksDB takes longer to answer than the scheduler
  # takes to run dry. A socket can also be read by the engine process
  # itself without blocking. So after it writes requests, while no other
  # process wants to run and its mailbox is empty, the engine process polls
  # the socket for up to :reply_spin µs; only then does it arm a select and
  # let the poll thread tell it when more arrives.
  #
  # Requests still go down the port's stdin, and the port still reports the
  # sidecar's exit. The socket's path lives in a directory only this OS
  # user can enter, and is unlinked once the sidecar has connected.
  #
  # Only the replies the engine process asked for come here (their request
  # ids carry bit 62, see Server): it asks when nothing else is in flight
  # and no other process wants to run, and only for requests their caller
  # marked (bit 58: small replies RocksDB takes µs to produce), so under
  # load, and for pings, scans and long read-ahead, replies take stdout. Frames are the port's: <<length::32, id::64, term>>.
  # The replies still expected here are counted in the process dictionary
  # (:"$side") by the engine process: the select stays armed exactly while
  # that count is above zero, so an idle engine is never woken for nothing.

  require Logger

  defstruct [:sock, :listener, :dir, armed: nil, buf: <<>>, spin: 0, dead: false]

  @type t :: %__MODULE__{}

  @doc """
  Listens on a fresh socket; returns the channel and the sidecar's extra
  arguments, or `{nil, []}` (replies on stdout) when `spin` is nil or the
  socket cannot be made (a temporary directory whose path is too long).
  """
  @spec listen(non_neg_integer() | nil) :: {t() | nil, [String.t()]}
  def listen(nil), do: {nil, []}

  def listen(spin) do
    with tmp when is_binary(tmp) <- System.tmp_dir() || {:error, :no_writable_tmp_dir},
         dir = Path.join(tmp, "spire-port-#{System.pid()}-#{System.unique_integer([:positive])}"),
         :ok <- File.mkdir(dir),
         :ok <- File.chmod(dir, 0o700),
         {:ok, l} <- open_listener(dir) do
      {%__MODULE__{listener: l, dir: dir, spin: spin},
       ["--reply-socket", Path.join(dir, "replies")]}
    else
      error -> without_socket(error)
    end
  rescue
    # A BEAM built without the socket NIF.
    e in [UndefinedFunctionError, ErlangError] -> without_socket(e)
  end

  defp without_socket(why) do
    Logger.warning("spire-port: replies on stdout, no reply socket: #{inspect(why)}")
    {nil, []}
  end

  # A socket path longer than sun_path (108 bytes) fails to bind: the
  # directory goes, the replies stay on stdout.
  defp open_listener(dir) do
    with {:ok, l} <- :socket.open(:local, :stream, :default),
         :ok <- bind_listen(l, Path.join(dir, "replies")) do
      {:ok, l}
    else
      error ->
        File.rm_rf(dir)
        error
    end
  end

  defp bind_listen(l, path) do
    with :ok <- :socket.bind(l, %{family: :local, path: path}),
         :ok <- :socket.listen(l, 1) do
      :ok
    else
      error ->
        :socket.close(l)
        error
    end
  end

  @doc """
  Accepts the sidecar's connection if it has come; until then a select on
  the listener asks for a `{:"$socket", listener, :select, _}` message.
  """
  @spec accept(t()) :: t()
  def accept(%__MODULE__{listener: l} = ch) when l != nil do
    case :socket.accept(l, :nowait) do
      {:ok, sock} ->
        close_listener(ch)
        %{ch | sock: sock, listener: nil, dir: nil}

      {:select, _} ->
        ch

      {:error, reason} ->
        close_listener(ch)
        Logger.error("spire-port: reply socket accept failed: #{inspect(reason)}")
        %{ch | listener: nil, dir: nil, dead: true}
    end
  end

  def accept(ch), do: ch

  @doc "Whether msg is this channel's select message."
  @spec select?(t() | nil, term()) :: boolean()
  def select?(%__MODULE__{sock: s, listener: l}, {:"$socket", x, :select, _}),
    do: x == s or x == l

  def select?(_, _), do: false

  @doc "Closes the socket (and the listener, if still listening)."
  @spec close(t() | nil) :: :ok
  def close(nil), do: :ok

  def close(ch) do
    close_listener(ch)
    if ch.sock, do: :socket.close(ch.sock)
    :ok
  end

  defp close_listener(%{listener: nil}), do: :ok

  defp close_listener(%{listener: l, dir: dir}) do
    :socket.close(l)
    File.rm_rf(dir)
    :ok
  end

  @doc """
  Reads everything the socket holds without blocking; hands whole frames
  to handle (in order) and keeps a partial one. Stops with a select armed,
  or with the channel dead once the sidecar closed its end.
  """
  @spec read(t(), ([binary()] -> any())) :: t()
  def read(%__MODULE__{sock: nil} = ch, _handle), do: ch
  def read(%__MODULE__{dead: true} = ch, _handle), do: ch

  def read(ch, handle) do
    case :socket.recv(ch.sock, 0, [], :nowait) do
      {:ok, data} ->
        read(take(ch, data, handle), handle)

      {:select, {{:select_info, _, _} = info, data}} ->
        %{take(ch, data, handle) | armed: info}

      {:select, info} ->
        %{ch | armed: info}

      {:error, _closed} ->
        %{ch | armed: nil, dead: true}
    end
  end

  @doc """
  After requests were written: polls for their replies while that pays
  (see the moduledoc), then leaves the channel settled.
  """
  @spec after_write(t(), ([binary()] -> any())) :: t()
  def after_write(%__MODULE__{armed: nil, dead: false, sock: s, spin: spin} = ch, handle)
      when s != nil and spin > 0 do
    deadline = System.monotonic_time(:nanosecond) + spin * 1000
    settle(poll(ch, handle, deadline), handle)
  end

  def after_write(ch, handle), do: settle(ch, handle)

  @doc """
  Arms a select while replies are pending and none is armed; cancels it
  when none is pending, so an idle engine is not woken.
  """
  @spec settle(t(), ([binary()] -> any())) :: t()
  def settle(%__MODULE__{sock: nil} = ch, _handle), do: ch
  def settle(%__MODULE__{dead: true} = ch, _handle), do: ch

  def settle(ch, handle) do
    pending? = Process.get(:"$side", 0) > 0

    cond do
      pending? and ch.armed == nil ->
        ch = read(ch, handle)
        # What that read routed may have been the last pending reply.
        if Process.get(:"$side", 0) > 0, do: ch, else: settle(ch, handle)

      not pending? and ch.armed != nil ->
        _ = :socket.cancel(ch.sock, ch.armed)
        %{ch | armed: nil}

      true ->
        ch
    end
  end

  @doc "The select fired: read what came and settle."
  @spec selected(t(), ([binary()] -> any())) :: t()
  def selected(%__MODULE__{listener: l} = ch, _handle) when l != nil, do: accept(ch)
  def selected(ch, handle), do: settle(read(%{ch | armed: nil}, handle), handle)

  defp poll(ch, handle, deadline) do
    case :socket.recv(ch.sock, 0, [], 0) do
      {:ok, data} ->
        ch = take(ch, data, handle)
        if keep_polling?(deadline), do: poll(ch, handle, deadline), else: ch

      {:error, :timeout} ->
        if keep_polling?(deadline), do: poll(ch, handle, deadline), else: ch

      {:error, _closed} ->
        %{ch | dead: true}
    end
  end

  # Polling pays only while a reply is expected, nothing else waits for
  # this scheduler (the callers the replies wake, other processes), and no
  # request waits in this process's mailbox.
  defp keep_polling?(deadline) do
    Process.get(:"$side", 0) > 0 and
      System.monotonic_time(:nanosecond) < deadline and
      :erlang.statistics(:total_active_tasks) <= 1 and
      Process.info(self(), :message_queue_len) == {:message_queue_len, 0}
  end

  defp take(ch, data, handle) do
    {frames, rest} = split(ch.buf <> data, [])
    if frames != [], do: handle.(frames)
    %{ch | buf: rest}
  end

  defp split(<<len::32, frame::binary-size(len), rest::binary>>, acc),
    do: split(rest, [frame | acc])

  defp split(rest, acc), do: {:lists.reverse(acc), rest}
end
