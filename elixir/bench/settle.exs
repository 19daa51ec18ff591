defmodule Bench.Settle do
  @moduledoc false
  # Waits until the engine runs and owes no flush or compaction (or a
  # minute passes): a benchmark that starts on a busy LSM measures the
  # compactions of what ran before it, and a backup copies every SST file
  # a compaction writes. Shared by bench.exs and backup.exs.

  @doc "Flushes, then waits for the LSM to settle."
  @spec settle(Store.KV.Engine.engine(), integer()) :: :ok
  def settle(engine, deadline \\ System.monotonic_time(:millisecond) + 60_000) do
    :ok = Store.KV.Engine.flush(engine)
    wait(engine, deadline)
  end

  defp wait(engine, deadline) do
    {:ok, %{properties: p}} = Store.KV.Engine.get_stats(engine)

    busy =
      p["rocksdb.num-running-compactions"] + p["rocksdb.num-running-flushes"] +
        p["rocksdb.estimate-pending-compaction-bytes"]

    if busy > 0 and System.monotonic_time(:millisecond) < deadline do
      Process.sleep(100)
      wait(engine, deadline)
    else
      :ok
    end
  end
end
