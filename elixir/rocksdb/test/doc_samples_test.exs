defmodule DocSamplesTest do
  # Every Elixir sample of the README and docs/spiredb.md runs as written
  # (paths under /var/lib/ moved to a temporary directory), so a sample
  # cannot drift from the API. `iex>` lines are checked against the output
  # shown under them, times aside.
  use ExUnit.Case, async: false
  @moduletag :tmp_dir

  @root Path.expand("../../..", __DIR__)

  defp blocks(file) do
    text = File.read!(Path.join(@root, file))

    for [_, code] <- Regex.scan(~r/```elixir\n(.*?)```/s, text),
        do:
          code
          |> String.split("\n")
          |> Enum.map_join("\n", &String.trim_leading(&1, " "))
          |> String.trim()
  end

  defp localize(code, tmp), do: String.replace(code, ~r{"/var/lib/}, "\"#{tmp}/var/lib/")

  # A fragment of a list (deps in mix.exs) is checked as the list's elements.
  # The state of an evaluation: bindings and the environment (aliases).
  defp fresh(binding), do: {binding, Code.env_for_eval([])}

  defp run(code, {binding, env}) do
    quoted =
      case Code.string_to_quoted(code) do
        {:ok, q} -> q
        {:error, _} -> Code.string_to_quoted!("[" <> code <> "]")
      end

    {_, binding, env} = Code.eval_quoted_with_env(quoted, binding, env)
    {binding, env}
  end

  defp run_iex(code, state) do
    code
    |> String.split("\n")
    |> Enum.chunk_while(
      nil,
      fn
        "iex> " <> expr, nil -> {:cont, {expr, []}}
        "iex> " <> expr, acc -> {:cont, acc, {expr, []}}
        line, {expr, out} -> {:cont, {expr, [line | out]}}
      end,
      fn
        nil -> {:cont, nil}
        acc -> {:cont, acc, nil}
      end
    )
    |> Enum.reduce(state, fn {expr, out}, {binding, env} ->
      {value, binding, env} =
        Code.eval_quoted_with_env(Code.string_to_quoted!(expr), binding, env)

      if out != [] do
        want = out |> Enum.reverse() |> Enum.join("\n")
        assert untimed(inspect(value)) == untimed(want), "iex> #{expr}"
      end

      {binding, env}
    end)
  end

  defp untimed(text), do: Regex.replace(~r/scan_time_ms: [0-9.e-]+/, text, "scan_time_ms: T")

  test "the README's samples run as written", %{tmp_dir: tmp} do
    [iex | rest] = blocks("README.md")
    assert iex =~ "iex>"

    # The IEx session's engine, as `iex -S mix` starts it in elixir/.
    {:ok, pid} = Store.KV.Engine.start_link(path: Path.join(tmp, "dev"))
    run_iex(iex, fresh([]))
    GenServer.stop(pid)

    Enum.reduce(rest, fresh([]), fn code, state -> run(localize(code, tmp), state) end)

    # The supervisor the sample started goes with its engine's name.
    [sup | _] =
      Process.info(Process.whereis(Store.KV.Engine), :dictionary)
      |> elem(1)
      |> Keyword.fetch!(:"$ancestors")

    Supervisor.stop(sup)
  end

  test "docs/spiredb.md's samples run as written", %{tmp_dir: tmp} do
    start_supervised!({Store.KV.Engine, path: Path.join(tmp, "engine")})
    state = fresh(data_dir: Path.join(tmp, "spiredb"))
    Enum.reduce(blocks("docs/spiredb.md"), state, &run(localize(&1, tmp), &2))
  end
end
