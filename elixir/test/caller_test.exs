defmodule Store.KV.CallerTest do
  # How a call waits for its reply: by id when the caller's mailbox is
  # empty (a plain get sends only its key), by reference when messages are
  # waiting there, and what each leaves behind after a timeout.
  use Store.KV.EngineCase, async: true
  @moduletag :tmp_dir

  test "a plain get returns a value in a binary of its own", %{tmp_dir: dir} do
    e = start_engine(dir)
    small = :binary.copy("v", 100)
    large = :crypto.strong_rand_bytes(200_000)
    :ok = Engine.put(e, "small", small)
    :ok = Engine.put(e, "large", large)

    assert {:ok, ^small} = Engine.get(e, "small")
    {:ok, v} = Engine.get(e, "small")
    # Not a sub-binary of the reply frame: keeping it keeps 100 bytes.
    assert :binary.referenced_byte_size(v) == byte_size(v)
    assert {:ok, ^large} = Engine.get(e, "large")
    assert {:error, :not_found} = Engine.get(e, "missing")
    assert {:ok, ""} = (:ok = Engine.put(e, "empty", "")) && Engine.get(e, "empty")
    # A key of every size the wire frames by hand, up to and past 64 bytes.
    for n <- [0, 1, 63, 64, 65, 4096] do
      key = :binary.copy("k", n)
      :ok = Engine.put(e, key, "v#{n}")
      assert {:ok, "v#{n}"} == Engine.get(e, key)
    end

    assert {:messages, []} = Process.info(self(), :messages)
  end

  test "a caller with messages waiting gets its reply and keeps its messages", %{tmp_dir: dir} do
    e = start_engine(dir)
    :ok = Engine.put(e, "k", "v")
    # Messages shaped like replies, with ids a caller could draw, are not
    # taken for one.
    waiting = [:first, {:"$spire_reply", 1, {:ok, "forged"}}, {make_ref(), "x"}, :last]
    for m <- waiting, do: send(self(), m)

    for _ <- 1..100 do
      assert {:ok, "v"} = Engine.get(e, "k")
      assert {:error, :not_found} = Engine.get(e, "nope", timeout: 5_000)
      assert :ok = Engine.put(e, "k", "v")
    end

    assert {:messages, ^waiting} = Process.info(self(), :messages)
  end

  test "a plain get times out after the engine's :timeout; its late reply is dropped", %{
    tmp_dir: dir
  } do
    e = start_engine(dir, timeout: 300)
    :ok = Engine.put(e, "k", "v")
    os_pid = stop_sidecar(e)
    started = System.monotonic_time(:millisecond)
    assert {:error, :timeout} = Engine.get(e, "k")
    assert (System.monotonic_time(:millisecond) - started) in 300..2_000
    System.cmd("kill", ["-CONT", "#{os_pid}"])
    assert {:ok, "v"} = Engine.get(e, "k")
    # The engine answered the cancel before any reply could come: nothing
    # late is left in the mailbox, and no request is left pending.
    Process.sleep(50)
    assert {:messages, []} = Process.info(self(), :messages)
    {:dictionary, dict} = Process.info(e, :dictionary)
    assert for({id, _} when is_integer(id) <- dict, do: id) == []
  end

  test "a caller waiting by reference times out as cleanly", %{tmp_dir: dir} do
    e = start_engine(dir, timeout: 200)
    :ok = Engine.put(e, "k", "v")
    os_pid = stop_sidecar(e)
    send(self(), :mine)
    assert {:error, :timeout} = Engine.get(e, "k")
    assert {:error, :timeout} = Engine.get(e, "k", timeout: 150)
    System.cmd("kill", ["-CONT", "#{os_pid}"])
    assert {:ok, "v"} = Engine.get(e, "k")
    Process.sleep(50)
    assert {:messages, [:mine]} = Process.info(self(), :messages)
  end

  test "plain gets waiting when the engine process dies learn it at once", %{tmp_dir: dir} do
    {:ok, pid} = Engine.start_link([path: dir, name: nil, timeout: 60_000] ++ small_opts())
    Process.unlink(pid)
    :ok = Engine.put(pid, "k", "v")
    os_pid = stop_sidecar(pid)
    tasks = for _ <- 1..4, do: Task.async(fn -> Engine.get(pid, "k") end)
    Process.sleep(200)
    Process.exit(pid, :kill)
    for task <- tasks, do: assert({:error, :engine_down} = Task.await(task, 5_000))
    System.cmd("kill", ["-CONT", "#{os_pid}"])
  end
end
