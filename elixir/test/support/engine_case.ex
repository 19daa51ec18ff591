defmodule Store.KV.EngineCase do
  @moduledoc false
  use ExUnit.CaseTemplate

  alias Store.KV.Engine

  using do
    quote do
      import Store.KV.EngineCase
      alias Store.KV.Engine
    end
  end

  @small [block_cache_size: 16 * 1024 * 1024, write_buffer_size: 4 * 1024 * 1024]

  @doc "Starts an unnamed engine on dir under the test supervisor."
  def start_engine(dir, opts \\ []) do
    opts = Keyword.merge([path: dir, name: nil] ++ @small, opts)
    start_supervised!(Supervisor.child_spec({Engine, opts}, id: make_ref()))
  end

  @doc "The sidecar's own counters from get_stats/1."
  def sidecar_stats(engine) do
    {:ok, %{sidecar: sidecar}} = Engine.get_stats(engine)
    sidecar
  end

  def small_opts, do: @small

  @doc """
  What the file descriptors of an OS process point at (`socket:[inode]`,
  `pipe:[...]`, paths). RocksDB's background threads open and close files
  while we look, so an fd listed a moment ago may be gone by the time its
  link is read: those are skipped.
  """
  def fd_links(os_pid) do
    for fd <- File.ls!("/proc/#{os_pid}/fd"),
        {:ok, link} <- [File.read_link("/proc/#{os_pid}/fd/#{fd}")],
        do: link
  end

  @doc "SIGSTOPs the engine's sidecar: it keeps its pipes open and answers nothing."
  def stop_sidecar(engine) do
    {:ok, os_pid} = Engine.os_pid(engine)
    System.cmd("kill", ["-STOP", "#{os_pid}"])
    wait_until(fn -> process_state(os_pid) == "T" end)
    os_pid
  end

  defp process_state(os_pid) do
    # /proc/PID/stat: "pid (comm) state ..."; comm may hold spaces.
    [_, after_comm] = String.split(File.read!("/proc/#{os_pid}/stat"), ") ", parts: 2)
    String.first(after_comm)
  end

  @doc "Polls fun every 20 ms until it returns true; flunks after tries."
  def wait_until(fun, tries \\ 250) do
    cond do
      fun.() -> :ok
      tries == 0 -> ExUnit.Assertions.flunk("condition never held")
      true -> Process.sleep(20) && wait_until(fun, tries - 1)
    end
  end
end
