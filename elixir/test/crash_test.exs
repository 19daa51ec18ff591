defmodule Store.KV.CrashTest do
  # Not async: the restarts it times must not compete with other suites.
  use Store.KV.EngineCase, async: false
  @moduletag :tmp_dir

  @tag :slow
  test "kill -9 under a supervisor: callers get :engine_down, the engine returns, no acknowledged write is lost",
       %{tmp_dir: dir} do
    name = :"engine_#{System.unique_integer([:positive])}"
    opts = [path: dir, name: name] ++ small_opts()

    {:ok, sup} =
      Supervisor.start_link([{Engine, opts}], strategy: :one_for_one, max_restarts: 100)

    acked = :ets.new(:acked, [:public, :bag])

    writers =
      for w <- 1..16 do
        Task.async(fn ->
          Enum.reduce_while(1..1_000_000, 0, fn i, downs ->
            key = "w#{w}:#{i}"

            result =
              if rem(i, 4) == 0,
                do: Engine.write_batch(name, [{:put, key, "b"}, {:put, key <> ":twin", "b"}]),
                else: Engine.put(name, key, "p")

            # downs counts consecutive :engine_down answers: ~10 s without
            # an engine ends the writer.
            case result do
              :ok ->
                :ets.insert(acked, {key, rem(i, 4) == 0})
                {:cont, 0}

              {:error, :engine_down} ->
                Process.sleep(5)
                if downs > 2000, do: {:halt, downs}, else: {:cont, downs + 1}
            end
          end)
        end)
      end

    # KILLS=100 for the long run; CI does 5.
    kills = String.to_integer(System.get_env("KILLS", "5"))

    for _ <- 1..kills do
      Process.sleep(150)
      {:ok, os_pid} = wait_for_engine(name)
      System.cmd("kill", ["-KILL", "#{os_pid}"])
    end

    Process.sleep(100)
    {:ok, _} = wait_for_engine(name)
    for w <- writers, do: Task.shutdown(w, :brutal_kill)

    keys = :ets.tab2list(acked)
    assert length(keys) > 1000

    for {key, batch?} <- keys do
      assert {:ok, _} = Engine.get(name, key), "acknowledged write #{key} lost"
      if batch?, do: assert({:ok, "b"} = Engine.get(name, key <> ":twin"))
    end

    Supervisor.stop(sup)
  end

  # A restart replays the WAL; on 2 busy cores that can take seconds.
  defp wait_for_engine(name, tries \\ 1_500) do
    case Engine.os_pid(name) do
      {:ok, pid} ->
        {:ok, pid}

      {:error, :engine_down} when tries > 0 ->
        Process.sleep(20)
        wait_for_engine(name, tries - 1)

      {:error, :engine_down} ->
        flunk("#{inspect(name)} did not come back within 30 s")
    end
  end

  @tag :slow
  test "a batch across column families is atomic across kill -9", %{tmp_dir: dir} do
    opts = [path: dir, name: nil, column_families: ["rows", "index"]] ++ small_opts()
    {:ok, e} = Engine.start_link(opts)
    Process.unlink(e)
    acked = :counters.new(1, [])

    writer =
      Task.async(fn ->
        Enum.reduce_while(1..1_000_000, 0, fn i, _ ->
          key = String.pad_leading(Integer.to_string(i), 8, "0")

          case Engine.write_batch(e, [
                 {:put, "rows", key, "row"},
                 {:put, "index", key, "idx"},
                 {:put, key, "default"}
               ]) do
            :ok ->
              :counters.put(acked, 1, i)
              {:cont, i}

            {:error, :engine_down} ->
              {:halt, i}
          end
        end)
      end)

    Process.sleep(300)
    {:ok, os_pid} = Engine.os_pid(e)
    System.cmd("kill", ["-KILL", "#{os_pid}"])
    Task.await(writer, 10_000)

    e2 = start_engine(dir, column_families: ["rows", "index"])
    keys = fn cf -> e2 |> Engine.scan_stream("", "", cf: cf) |> Enum.map(&elem(&1, 0)) end
    rows = keys.("rows")
    assert rows == keys.("index"), "every batch is in both families or in neither"
    assert rows == keys.("default")
    assert length(rows) >= :counters.get(acked, 1), "every acknowledged batch survived"
    assert :counters.get(acked, 1) > 100
  end

  @tag :slow
  test "a checkpoint taken under write load opens to a consistent state", %{tmp_dir: dir} do
    e = start_engine(dir, column_families: ["rows", "index"])
    stop = :atomics.new(1, [])

    writers =
      for w <- 1..4 do
        Task.async(fn ->
          Enum.reduce_while(1..1_000_000, 0, fn i, n ->
            if :atomics.get(stop, 1) == 1 do
              {:halt, n}
            else
              key = "w#{w}:" <> String.pad_leading(Integer.to_string(i), 8, "0")
              :ok = Engine.write_batch(e, [{:put, "rows", key, "r"}, {:put, "index", key, "i"}])
              {:cont, n + 1}
            end
          end)
        end)
      end

    Process.sleep(200)
    assert :ok = Engine.checkpoint(e, "under-load")
    Process.sleep(100)
    :atomics.put(stop, 1, 1)
    written = writers |> Enum.map(&Task.await(&1, 10_000)) |> Enum.sum()

    # A checkpoint is an engine layout: an engine opens it as it is.
    copy = start_engine(Path.join([dir, "checkpoints", "under-load"]))
    keys = fn cf -> copy |> Engine.scan_stream("", "", cf: cf) |> Enum.map(&elem(&1, 0)) end
    rows = keys.("rows")
    assert rows != [], "the checkpoint holds the writes made before it"
    assert rows == keys.("index"), "no batch is half in the checkpoint"
    assert length(rows) < written, "writes after the checkpoint are not in it"
  end

  @tag :slow
  test "killing the engine process restarts it with exactly one sidecar on the path", %{
    tmp_dir: dir
  } do
    name = :"engine_#{System.unique_integer([:positive])}"

    {:ok, sup} =
      Supervisor.start_link([{Engine, [path: dir, name: name] ++ small_opts()}],
        strategy: :one_for_one
      )

    :ok = Engine.put(name, "k", "v")

    for _ <- 1..3 do
      {:ok, old_os_pid} = Engine.os_pid(name)
      old = Process.whereis(name)
      Process.exit(old, :kill)
      {:ok, new_os_pid} = wait_for_new_engine(name, old)
      assert new_os_pid != old_os_pid

      refute File.exists?("/proc/#{old_os_pid}/status") and not zombie?(old_os_pid),
             "the old sidecar closed before the new one opened"

      assert {:ok, "v"} = Engine.get(name, "k")
    end

    Supervisor.stop(sup)
  end

  defp zombie?(os_pid) do
    case File.read("/proc/#{os_pid}/status") do
      {:ok, status} -> status =~ ~r/State:\s+Z/
      _ -> true
    end
  end

  defp wait_for_new_engine(name, old, tries \\ 500) do
    case Process.whereis(name) do
      pid when is_pid(pid) and pid != old ->
        case Engine.os_pid(name) do
          {:ok, os_pid} -> {:ok, os_pid}
          _ -> retry_new_engine(name, old, tries)
        end

      _ ->
        retry_new_engine(name, old, tries)
    end
  end

  defp retry_new_engine(_name, _old, 0), do: flunk("the engine did not come back")

  defp retry_new_engine(name, old, tries) do
    Process.sleep(20)
    wait_for_new_engine(name, old, tries - 1)
  end
end
