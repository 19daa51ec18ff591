defmodule Store.KV.FaultsTest do
  use Store.KV.EngineCase, async: true
  @moduletag :tmp_dir

  test "start_link validates its options before starting anything" do
    assert_raise ArgumentError, ~r/needs a :path/, fn -> Engine.start_link([]) end

    assert_raise ArgumentError, ~r/:compression: :gzip/, fn ->
      Engine.start_link(path: "/tmp/x", compression: :gzip)
    end

    assert_raise ArgumentError, ~r/:block_cache_size: -1/, fn ->
      Engine.start_link(path: "/tmp/x", block_cache_size: -1)
    end

    assert_raise ArgumentError, ~r/unknown keys \[:bogus\]/, fn ->
      Engine.start_link(path: "/tmp/x", bogus: 1)
    end

    assert_raise ArgumentError, ~r/:memtable_bloom_percent: 26; want an integer 0..25/, fn ->
      Engine.start_link(path: "/tmp/x", memtable_bloom_percent: 26)
    end

    assert_raise ArgumentError, ~r/:spin: -1; want an integer 0..10000/, fn ->
      Engine.start_link(path: "/tmp/x", spin: -1)
    end
  end

  test ":spin and :busy_spin reach the sidecar's flags, and 0 still serves", %{tmp_dir: dir} do
    for {spin, want} <- [{0, "0us"}, {nil, "50us"}] do
      opts = if spin, do: [spin: spin, busy_spin: 0], else: []
      e = start_engine(Path.join(dir, "#{want}"), opts)
      {:ok, os_pid} = Engine.os_pid(e)
      args = File.read!("/proc/#{os_pid}/cmdline") |> String.split(<<0>>)
      assert [_, ^want | _] = Enum.drop_while(args, &(&1 != "--spin"))
      busy = Enum.drop_while(args, &(&1 != "--busy-spin"))
      if spin, do: assert([_, "0us" | _] = busy), else: assert(busy == [])
      assert :ok = Engine.put(e, "k", "v")
      assert {:ok, "v"} = Engine.get(e, "k")
    end
  end

  test "RocksDB options reach RocksDB", %{tmp_dir: dir} do
    start_engine(dir, memtable_bloom_percent: 2, max_background_jobs: 3)
    [options | _] = Path.wildcard(Path.join([dir, "data", "OPTIONS-*"])) |> Enum.sort(:desc)
    text = File.read!(options)
    assert text =~ ~r/^\s*memtable_prefix_bloom_size_ratio=0\.020000$/m
    assert text =~ ~r/^\s*memtable_whole_key_filtering=true$/m
    assert text =~ ~r/^\s*max_background_jobs=3$/m
  end

  test "a held path gives the sidecar's own message, not a crash loop", %{tmp_dir: dir} do
    start_engine(dir)
    Process.flag(:trap_exit, false)

    assert {:error, {:open_failed, msg}} =
             Engine.start_link([path: dir, name: nil] ++ small_opts())

    assert msg =~ "LOCK"

    assert {:error, {:binary_not_found, _}} =
             Engine.start_link(path: dir, name: nil, binary: "/nonexistent")
  end

  test "two engines on two paths side by side", %{tmp_dir: dir} do
    a = start_engine(Path.join(dir, "a"))
    b = start_engine(Path.join(dir, "b"))
    :ok = Engine.put(a, "k", "in a")
    :ok = Engine.put(b, "k", "in b")
    assert {:ok, "in a"} = Engine.get(a, "k")
    assert {:ok, "in b"} = Engine.get(b, "k")
  end

  test "stopping an engine releases the LOCK for the next one at once", %{tmp_dir: dir} do
    opts = [path: dir, name: nil] ++ small_opts()

    for i <- 1..3 do
      {:ok, pid} = Engine.start_link(opts)
      {:ok, os_pid} = Engine.os_pid(pid)
      previous = "v#{i - 1}"
      if i > 1, do: assert({:ok, ^previous} = Engine.get(pid, "k"))
      :ok = Engine.put(pid, "k", "v#{i}")
      :ok = GenServer.stop(pid)
      refute File.exists?("/proc/#{os_pid}"), "the sidecar exited before stop returned"
    end
  end

  test "a call times out, and its late reply is dropped", %{tmp_dir: dir} do
    e = start_engine(dir)
    :ok = Engine.put(e, "k", "v")
    os_pid = stop_sidecar(e)
    assert {:error, :timeout} = Engine.get(e, "k", timeout: 100)
    System.cmd("kill", ["-CONT", "#{os_pid}"])
    assert {:ok, "v"} = Engine.get(e, "k")
    refute_received {_, _}
  end

  test "a reply routed between a caller's timeout and its cancel is flushed", %{tmp_dir: dir} do
    # With the reply socket, whose pending counts this checks too.
    e = start_engine(dir, reply_socket: true)
    :ok = Engine.put(e, "k", "v")
    os_pid = stop_sidecar(e)

    test_pid = self()

    task =
      Task.async(fn ->
        result = Engine.get(e, "k", timeout: 600)
        send(test_pid, :returned)
        # Look at the mailbox only once the engine process has routed all
        # it had.
        receive do
          :look -> {result, Process.info(self(), :messages)}
        end
      end)

    # The request is with the stopped sidecar. The engine process stops
    # reading its mailbox; the sidecar answers into it; then the caller
    # times out, so its cancel queues behind the reply.
    Process.sleep(150)
    :sys.suspend(e)
    System.cmd("kill", ["-CONT", "#{os_pid}"])
    Process.sleep(800)
    :sys.resume(e)
    assert_receive :returned, 10_000
    _ = :sys.get_state(e)
    send(task.pid, :look)

    assert {{:error, :timeout}, {:messages, []}} = Task.await(task, 10_000)
    assert {:ok, "v"} = Engine.get(e, "k")
    {:dictionary, dict} = Process.info(e, :dictionary)
    assert dict[:"$pending"] == 0
    assert for({id, _} when is_integer(id) <- dict, do: id) == []
  end

  test "callers waiting when the engine process is killed get :engine_down at once", %{
    tmp_dir: dir
  } do
    {:ok, pid} = Engine.start_link([path: dir, name: nil] ++ small_opts())
    Process.unlink(pid)
    :ok = Engine.put(pid, "k", "v")
    # A stopped sidecar answers nothing: every call below is left waiting.
    os_pid = stop_sidecar(pid)

    tasks = for _ <- 1..4, do: Task.async(fn -> Engine.get(pid, "k", timeout: 30_000) end)
    Process.sleep(200)
    started = System.monotonic_time(:millisecond)
    Process.exit(pid, :kill)

    for task <- tasks, do: assert({:error, :engine_down} = Task.await(task, 5_000))
    assert System.monotonic_time(:millisecond) - started < 2_000
    System.cmd("kill", ["-CONT", "#{os_pid}"])
    # Its owner gone, the sidecar finds both its reply channels closed and
    # stdin at its end: it exits, and the database's LOCK with it.
    wait_until(fn -> exited?(os_pid) end)
  end

  # Gone, or a zombie its parent has not reaped yet.
  defp exited?(os_pid) do
    case File.read("/proc/#{os_pid}/stat") do
      {:ok, stat} -> stat |> String.split(") ", parts: 2) |> List.last() |> String.first() == "Z"
      {:error, _} -> true
    end
  end

  test "calls on a dead engine return :engine_down, never hang or raise", %{tmp_dir: dir} do
    {:ok, pid} = Engine.start_link([path: dir, name: nil] ++ small_opts())
    Process.unlink(pid)
    {:ok, os_pid} = Engine.os_pid(pid)
    ref = Process.monitor(pid)
    System.cmd("kill", ["-KILL", "#{os_pid}"])
    assert_receive {:DOWN, ^ref, :process, ^pid, {:engine_exit, _}}, 5_000
    assert {:error, :engine_down} = Engine.get(pid, "k")
    assert {:error, :engine_down} = Engine.scan_range(pid, "", "")
    assert {:error, :engine_down} = Engine.get(:no_such_engine, "k")
  end

  test "50 concurrent tasks x 1000 mixed operations, every result checked", %{tmp_dir: dir} do
    e = start_engine(dir)

    1..50
    |> Task.async_stream(
      fn t ->
        prefix = "t#{t}:"

        Enum.reduce(1..1000, %{}, fn i, written ->
          key = prefix <> Integer.to_string(rem(i * 7, 97))

          case rem(i, 5) do
            r when r in [0, 1] ->
              :ok = Engine.put(e, key, "#{t}-#{i}")
              Map.put(written, key, "#{t}-#{i}")

            2 ->
              expected = Map.fetch(written, key)

              case Engine.get(e, key) do
                {:ok, v} -> {:ok, ^v} = expected
                {:error, :not_found} -> :error = expected
              end

              written

            3 ->
              :ok = Engine.write_batch(e, [{:put, key, "b#{i}"}, {:delete, key <> "x"}])
              Map.put(written, key, "b#{i}")

            4 ->
              {:ok, batches} = Engine.scan_range(e, prefix, prefix <> "~", batch_size: 10)
              rows = Enum.flat_map(batches, &elem(&1, 0))
              assert Map.new(rows) == written
              written
          end
        end)
      end,
      max_concurrency: 50,
      timeout: 60_000
    )
    |> Enum.each(fn {:ok, written} -> assert map_size(written) > 0 end)
  end
end
