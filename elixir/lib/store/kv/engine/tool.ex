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
  def run([_cmd, dir | _] = args) when is_binary(dir) do
    case System.cmd(Options.binary([]), args, stderr_to_stdout: false) do
      {out, _status} when byte_size(out) > 0 -> :erlang.binary_to_term(out, [:safe])
      {_, status} -> {:error, {:tool_failed, status}}
    end
  end

  def run(args), do: {:error, {:badarg, "invalid arguments: #{inspect(args)}"}}
end
