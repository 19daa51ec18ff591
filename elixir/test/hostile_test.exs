defmodule Store.KV.HostileTest do
  # The hostile-input promises that the public API reaches.
  use Store.KV.EngineCase, async: true
  @moduletag :tmp_dir

  test "a reversed range is refused and every later write still works", %{tmp_dir: dir} do
    e = start_engine(dir)
    :ok = Engine.create_column_family(e, "other")

    assert {:error, {:badarg, msg}} = Engine.delete_range(e, "b", "a")
    assert msg =~ "comes before"
    assert {:error, {:badarg, _}} = Engine.write_batch(e, [{:delete_range, "a", ""}])

    assert :ok = Engine.put(e, "k", "v")
    assert :ok = Engine.put(e, "k", "v", cf: "other", sync: true)
    assert :ok = Engine.delete(e, "k")
    assert :ok = Engine.write_batch(e, [{:put, "a", "1"}, {:delete_range, "b", "c"}])
    assert :ok = Engine.delete_range(e, "x", "y")
    assert :ok = Engine.flush(e)
    assert %{writes_stopped: false} = sidecar_stats(e)
  end

  test "a batch with a bad range anywhere applies nothing", %{tmp_dir: dir} do
    e = start_engine(dir)
    puts = for i <- 1..999, do: {:put, "w" <> String.pad_leading("#{i}", 3, "0"), "v"}

    for bad <- [{:delete_range, "b", "a"}, {:delete_range, "a", ""}] do
      batch = List.replace_at(puts, 500, bad)
      assert {:error, {:badarg, _}} = Engine.write_batch(e, batch)
      assert {:error, :not_found} = Engine.get(e, "w001")
    end
  end

  test "stray messages to the engine process are ignored", %{tmp_dir: dir} do
    # With the reply socket, whose pending counts this checks too.
    e = start_engine(dir, reply_socket: true)
    pid = GenServer.whereis(e)

    for msg <- [
          {:"$spire", "not an id", nil, "x"},
          {:"$spire", 1, self(), :not_a_binary},
          {:"$spire", 5, :no_such_name, :erlang.term_to_binary({:ping})},
          {:"$spire", 7, nil, :erlang.term_to_binary({:ping})},
          {:"$spire", -1, {self(), make_ref()}, :erlang.term_to_binary({:ping})},
          {:"$spire", 2 ** 63, {self(), make_ref()}, :erlang.term_to_binary({:ping})},
          {:"$spire_cancel", :no, :pid, nil},
          {:junk, 1}
        ],
        do: send(pid, msg)

    assert :ok = Engine.put(e, "k", "v")
    assert {:ok, "v"} = Engine.get(e, "k")
    assert GenServer.whereis(e) == pid
    assert Process.alive?(pid)
    {:dictionary, dict} = Process.info(pid, :dictionary)
    assert dict[:"$pending"] == 0, "nothing registered that no reply can clear"
  end

  test "a column family name with a NUL byte is refused", %{tmp_dir: dir} do
    e = start_engine(dir)
    assert {:error, {:badarg, msg}} = Engine.create_column_family(e, "a\0b")
    assert msg =~ "NUL"
    assert {:ok, ["default"]} = Engine.list_column_families(e)
  end

  test "a LOCK that cannot be opened fails start_link at once", %{tmp_dir: dir} do
    # A directory where the LOCK file should be: RocksDB cannot open it, and
    # waiting will not change that.
    File.mkdir_p!(Path.join([dir, "data", "LOCK"]))
    Process.flag(:trap_exit, true)
    began = System.monotonic_time(:millisecond)

    assert {:error, {:open_failed, msg}} =
             Engine.start_link([path: dir, name: nil, lock_timeout: 20_000] ++ small_opts())

    assert msg =~ "LOCK"
    assert System.monotonic_time(:millisecond) - began < 10_000
  end

  # gen_server used to ack the starter a second time ({:error, :normal})
  # after the engine's own error ack: a supervisor logged it.
  test "a failed start under a supervisor is acked once", %{tmp_dir: dir} do
    File.mkdir_p!(Path.join([dir, "data", "LOCK"]))
    {:ok, sup} = DynamicSupervisor.start_link(strategy: :one_for_one)
    spec = {Engine, [path: dir, name: nil] ++ small_opts()}

    log =
      ExUnit.CaptureLog.capture_log(fn ->
        assert {:error, {:open_failed, _}} = DynamicSupervisor.start_child(sup, spec)
        # The second ack, when there was one, came right after the first.
        :sys.get_state(sup)
        Process.sleep(50)
        :sys.get_state(sup)
      end)

    refute log =~ "unexpected message"
  end

  test "concurrent callers each see their own writes in order", %{tmp_dir: dir} do
    e = start_engine(dir)
    :ok = Engine.create_column_family(e, "cf")

    1..16
    |> Task.async_stream(
      fn c ->
        for i <- 1..200 do
          key = "c#{c}:#{rem(i, 5)}"
          val = "#{i}"

          case rem(i, 4) do
            0 ->
              :ok = Engine.put(e, key, val, sync: true)
              {:ok, ^val} = Engine.get(e, key)

            1 ->
              :ok = Engine.put(e, key, val, cf: "cf")
              {:ok, ^val} = Engine.get(e, key, cf: "cf")

            2 ->
              :ok = Engine.write_batch(e, [{:put, key, val}], sync: true)
              {:ok, [^val]} = Engine.multi_get(e, [key])

            3 ->
              :ok = Engine.delete(e, key)
              {:ok, []} = Engine.scan_range(e, key, key)
          end
        end

        :ok
      end,
      max_concurrency: 16,
      timeout: 60_000
    )
    |> Enum.each(fn result -> assert {:ok, :ok} = result end)
  end

  @tag :slow
  test "a write larger than the free space is refused and the sidecar keeps serving", %{
    tmp_dir: dir
  } do
    fs = Path.join(dir, "fs")
    File.mkdir_p!(fs)

    case System.cmd("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", fs],
           stderr_to_stdout: true
         ) do
      {_, 0} ->
        try do
          full_disk(fs)
        after
          System.cmd("umount", ["-l", fs])
        end

      {out, _} ->
        flunk("this test mounts a tmpfs and needs root: #{out}")
    end
  end

  defp full_disk(fs) do
    e = start_engine(fs, min_free_disk_bytes: 8 * 1024 * 1024, write_buffer_size: 1024 * 1024)
    :ok = Engine.put(e, "kept", "yes", sync: true)
    {df, 0} = System.cmd("df", ["-B1", "--output=avail", fs])
    free = df |> String.split() |> List.last() |> String.to_integer()
    ballast = free - 20 * 1024 * 1024
    {_, 0} = System.cmd("fallocate", ["-l", "#{ballast}", Path.join(fs, "ballast")])
    # The guard looks at the free space at most every 100 ms.
    Process.sleep(250)

    value = :binary.copy("x", 1024 * 1024)
    batch = for i <- 1..40, do: {:put, "big#{i}", value}
    assert {:error, {:rocksdb, msg}} = Engine.write_batch(e, batch)
    assert msg =~ "No space left on device"
    assert {:ok, "yes"} = Engine.get(e, "kept")
    assert :ok = Engine.put(e, "small", "fits")
    assert {:ok, "fits"} = Engine.get(e, "small")
  end

  test "a request over max_frame sent in one batch with others costs only itself", %{
    tmp_dir: dir
  } do
    e = start_engine(dir, max_frame: 4096)
    :ok = Engine.put(e, "k", "v")
    huge = :binary.copy("x", 8192)
    # Held in the engine process's mailbox, the requests go out in one
    # batch frame when it resumes: one too large for the sidecar to take.
    :sys.suspend(e)
    small = for _ <- 1..5, do: Task.async(fn -> Engine.get(e, "k") end)
    big = Task.async(fn -> Engine.get(e, huge) end)
    puts = Task.async(fn -> Engine.put(e, "k2", "v2") end)
    wait_until(fn -> elem(Process.info(e, :message_queue_len), 1) >= 7 end)
    :sys.resume(e)

    for t <- small, do: assert({:ok, "v"} = Task.await(t, 10_000))
    assert {:error, {:badarg, msg}} = Task.await(big, 10_000)
    assert msg =~ "exceeds the limit of 4096"
    assert :ok = Task.await(puts, 10_000)
    assert {:ok, "v2"} = Engine.get(e, "k2")
  end

  test "a malformed batch frame costs the engine process nothing but its own bytes", %{
    tmp_dir: dir
  } do
    e = start_engine(dir)
    :ok = Engine.put(e, "k", "v")
    %{port: port} = Store.KV.Engine.Caller.ctx(e)

    log =
      ExUnit.CaptureLog.capture_log(fn ->
        # An entry that claims more bytes than the frame holds.
        send(e, {port, {:data, <<-1::64, 500::32, 7::64, "short">>}})
        _ = :sys.get_state(e)
      end)

    assert log =~ "malformed batch frame"
    assert Process.alive?(e)
    assert {:ok, "v"} = Engine.get(e, "k")
  end
end
