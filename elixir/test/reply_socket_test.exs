defmodule Store.KV.ReplySocketTest do
  # Not async: replies take the socket only while no other process wants
  # to run, which the first test relies on.
  use Store.KV.EngineCase, async: false
  @moduletag :tmp_dir

  defp socket_bytes_read(e) do
    %{replies: %{sock: sock}} = :sys.get_state(e)
    :socket.info(sock).counters.read_byte
  end

  test "a lone caller's replies come on the reply socket, right; many callers' too", %{
    tmp_dir: dir
  } do
    start_engine(dir, name: :reply_socket_lone, reply_socket: true)
    e = Process.whereis(:reply_socket_lone)
    assert %{replies: %{sock: sock}} = :sys.get_state(e)
    assert sock != nil
    before = socket_bytes_read(e)

    rows = for i <- 1..20_000, do: {"k" <> String.pad_leading("#{i}", 6, "0"), "v#{i}"}

    for chunk <- Enum.chunk_every(rows, 1000),
        do: :ok = Engine.write_batch(e, Enum.map(chunk, fn {k, v} -> {:put, k, v} end))

    assert {:error, :not_found} = Engine.get(e, "nope")

    # Lone gets and short iterator moves ask for the socket.
    for i <- 1..2000//7 do
      key = "k" <> String.pad_leading("#{i}", 6, "0")
      assert {:ok, "v#{i}"} == Engine.get(e, key)
    end

    db = Engine.get_db_ref(:reply_socket_lone)
    {:ok, itr} = Store.KV.RocksDB.iterator(db, [])
    assert {:ok, "k000100", "v100"} = Store.KV.RocksDB.iterator_move(itr, {:seek, "k000100"})
    assert {:ok, "k000101", "v101"} = Store.KV.RocksDB.iterator_move(itr, :next)
    :ok = Store.KV.RocksDB.iterator_close(itr)
    assert socket_bytes_read(e) - before > 286 * 12, "the replies came over the socket"

    # A scan's frames take stdout; its rows are all there.
    assert {:ok, batches} = Engine.scan_range(e, "k", "l", batch_size: 1000)
    assert Enum.flat_map(batches, &elem(&1, 0)) == rows

    # Several callers at once: some replies take stdout, every one is right.
    tasks =
      for t <- 1..16 do
        Task.async(fn ->
          for i <- 1..500 do
            n = rem(t * 997 + i * 13, 20_000) + 1
            key = "k" <> String.pad_leading("#{n}", 6, "0")
            {:ok, v} = Engine.get(e, key)
            assert v == "v#{n}"
          end
        end)
      end

    Enum.each(tasks, &Task.await(&1, 30_000))
    # Nothing is left expected or armed once every caller is answered.
    {:dictionary, dict} = Process.info(e, :dictionary)
    assert dict[:"$pending"] == 0
    assert dict[:"$side"] == 0
    assert %{replies: %{armed: nil}} = :sys.get_state(e)
  end

  test "the sidecar holds a Unix socket when asked, none by default", %{tmp_dir: dir} do
    e = start_engine(Path.join(dir, "a"), reply_socket: true)
    {:ok, os_pid} = Engine.os_pid(e)
    assert Enum.any?(fd_links(os_pid), &String.starts_with?(&1, "socket:"))
    # The socket's path is unlinked once the sidecar connected.
    %{replies: %{dir: nil, listener: nil}} = :sys.get_state(e)

    e2 = start_engine(Path.join(dir, "b"))
    assert %{replies: nil} = :sys.get_state(e2)
  end

  test "kill -9 with the reply socket: the pending caller gets :engine_down, the engine returns",
       %{tmp_dir: dir} do
    opts = [path: dir, name: :reply_socket_kill, reply_socket: true] ++ small_opts()
    start_supervised!({Engine, opts})
    :ok = Engine.put(:reply_socket_kill, "k", "v")
    {:ok, os_pid} = Engine.os_pid(:reply_socket_kill)

    # A slow request is still in flight on the socket when the sidecar dies.
    waiter = Task.async(fn -> Engine.compact_range(:reply_socket_kill, nil, nil) end)
    System.cmd("kill", ["-KILL", "#{os_pid}"])
    assert Task.await(waiter) in [:ok, {:error, :engine_down}]

    wait_until(fn ->
      match?({:ok, pid} when pid != os_pid, Engine.os_pid(:reply_socket_kill))
    end)

    assert {:ok, "v"} = Engine.get(:reply_socket_kill, "k")
    # The new sidecar has its own connection.
    assert %{replies: %{sock: sock, dead: false}} = :sys.get_state(:reply_socket_kill)
    assert sock != nil
  end

  test "a socket path too long to bind leaves the replies on stdout, and the engine serving",
       %{tmp_dir: dir} do
    long = Path.join(dir, String.duplicate("t", 100))
    File.mkdir_p!(long)
    old = System.get_env("TMPDIR")
    System.put_env("TMPDIR", long)

    e =
      try do
        start_engine(Path.join(dir, "db"))
      after
        if old, do: System.put_env("TMPDIR", old), else: System.delete_env("TMPDIR")
      end

    assert %{replies: nil} = :sys.get_state(e)
    assert :ok = Engine.put(e, "k", "v")
    assert {:ok, "v"} = Engine.get(e, "k")
    assert File.ls!(long) == [], "the socket's directory is gone"
  end

  test "bad reply options are refused by name", %{tmp_dir: dir} do
    assert_raise ArgumentError, ~r/reply_socket/, fn ->
      Store.KV.Engine.Options.validate!(path: dir, reply_socket: :yes)
    end

    assert_raise ArgumentError, ~r/reply_spin/, fn ->
      Store.KV.Engine.Options.validate!(path: dir, reply_spin: -1)
    end
  end
end
