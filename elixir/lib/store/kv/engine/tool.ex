defmodule Store.KV.Engine.Tool do
  @moduledoc false
  # The spire-port binary's one-shot commands, for what needs no running
  # engine (backup directories; destroying, repairing or listing the
  # column families of a database no process holds open): run the binary
  # once and read the one ETF term it prints (cmd/spire-port/tool.go,
  # --list-column-families).

  alias Store.KV.Engine.Options

  @doc false
  @spec run([String.t()]) :: term()
  def run([cmd, dir | _] = args) when is_binary(dir) do
    if Enum.all?(args, &sane_arg?/1) do
      case System.cmd(Options.binary([]), args, stderr_to_stdout: false) do
        {out, _status} when byte_size(out) > 0 -> decode(out)
        {_, 2} -> {:error, {:badarg, "spire-port #{cmd}: invalid arguments"}}
        {_, status} -> {:error, {:tool_failed, status}}
      end
    else
      {:error, {:badarg, "spire-port #{cmd}: an argument is not a path the binary can take"}}
    end
  end

  def run(args), do: {:error, {:badarg, "invalid arguments: #{inspect(args)}"}}

  # The term holds only atoms of the wire's list; naming it loads them.
  defp decode(out) do
    _ = Store.KV.Engine.Wire.reply_atoms()
    :erlang.binary_to_term(out, [:safe])
  end

  @doc """
  Whether `bin` is within the binary's bounds on a path (wire.CheckPath):
  at most 4095 bytes and 255 per component, without NUL.
  """
  @spec path_bounds?(binary()) :: boolean()
  def path_bounds?(bin) do
    byte_size(bin) <= 4095 and :binary.match(bin, <<0>>) == :nomatch and
      Enum.all?(:binary.split(bin, "/", [:global]), &(byte_size(&1) <= 255))
  end

  # Checked here too, since an argument vector cannot carry a NUL, and one
  # too long fails the exec.
  defp sane_arg?(arg), do: is_binary(arg) and arg != "" and path_bounds?(arg)
end
