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

            case result do
              :ok ->
                :ets.insert(acked, {key, rem(i, 4) == 0})
                {:cont, downs}

              {:error, :engine_down} ->
                Process.sleep(5)
                if downs > 200, do: {:halt, downs}, else: {:cont, downs + 1}
            end
          end)
        end)
      end

    for _ <- 1..5 do
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
end
