defmodule Bench.ProcCPU do
  @moduledoc false
  # CPU time of an OS process from /proc, for the CPU-per-call columns.
  # Shared by bench.exs and engine_ab.exs.

  @doc """
  utime + stime of `pid` ("self" for the BEAM), in µs (clock ticks of
  10 ms: rounds of seconds make it fine enough); 0 once it is gone.
  """
  @spec micros(String.t() | non_neg_integer()) :: non_neg_integer()
  def micros(pid) do
    case File.read("/proc/#{pid}/stat") do
      {:ok, stat} ->
        # Fields after the command name (which may hold spaces), from 3 on.
        [_, rest] = String.split(stat, ") ", parts: 2)
        fields = String.split(rest)
        (String.to_integer(Enum.at(fields, 11)) + String.to_integer(Enum.at(fields, 12))) * 10_000

      _ ->
        0
    end
  end
end
