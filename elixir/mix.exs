defmodule SpirePort.MixProject do
  use Mix.Project

  def project do
    [
      app: :spire_port,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      deps: [],
      # The sidecar is built before the Elixir code, also when this project
      # is a dependency (of elixir/rocksdb, of SpireDB): a compiler runs
      # there, where an alias would not.
      compilers: [:spire_port_sidecar, :spire_port_life | Mix.compilers()],
      elixirc_options: [warnings_as_errors: true],
      elixirc_paths: elixirc_paths(Mix.env()),
      docs: [main: "Store.KV.Engine"]
    ]
  end

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  def application do
    [extra_applications: [:logger], mod: {Store.KV.Application, []}]
  end
end

defmodule Mix.Tasks.Compile.SpirePortSidecar do
  @moduledoc false
  # Builds bin/spire-port at the repository root with `go build` when a Go
  # source is newer than it. Go's build cache makes this cheap when nothing
  # changed. $SPIRE_PORT_BINARY (a prebuilt sidecar) skips it.
  use Mix.Task.Compiler

  @repo_root Path.expand("..", __DIR__)

  @impl true
  def run(_args) do
    binary = Path.join(@repo_root, "bin/spire-port")

    cond do
      System.get_env("SPIRE_PORT_BINARY") ->
        {:noop, []}

      System.find_executable("go") == nil ->
        unless File.exists?(binary) do
          Mix.raise(
            "spire-port is not built and `go` is not on PATH; run `make build` at #{@repo_root}"
          )
        end

        {:noop, []}

      stale?(binary) ->
        Mix.shell().info("Building #{binary}")

        {out, status} =
          System.cmd("go", ["build", "-o", binary, "./cmd/spire-port"],
            cd: @repo_root,
            stderr_to_stdout: true
          )

        if status != 0, do: Mix.raise("go build failed:\n" <> out)
        {:ok, []}

      true ->
        {:noop, []}
    end
  end

  defp stale?(binary) do
    case File.stat(binary, time: :posix) do
      {:ok, %{mtime: built}} ->
        [@repo_root, "{cmd,port,etf,engine}/**/*.{go,cc,h}"]
        |> Path.join()
        |> Path.wildcard()
        |> Enum.concat([Path.join(@repo_root, "go.mod")])
        |> Enum.any?(fn src -> File.stat!(src, time: :posix).mtime > built end)

      {:error, _} ->
        true
    end
  end
end

defmodule Mix.Tasks.Compile.SpirePortLife do
  @moduledoc false
  # Builds priv/spire_life.so, the resource-only NIF behind the lifetime of
  # :rocksdb's handles (c_src/spire_life.c), with the C compiler and the
  # headers of erlang-dev, when the source is newer than it.
  use Mix.Task.Compiler

  @src Path.expand("c_src/spire_life.c", __DIR__)
  @out Path.expand("priv/spire_life.so", __DIR__)

  @impl true
  def run(_args) do
    if stale?() do
      include = Path.join([:code.root_dir(), "erts-#{:erlang.system_info(:version)}", "include"])

      cc =
        System.get_env("CC") || System.find_executable("cc") ||
          Mix.raise("no C compiler (cc) on PATH")

      File.mkdir_p!(Path.dirname(@out))
      Mix.shell().info("Building #{@out}")

      args =
        ~w(-O2 -std=c99 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden) ++
          ["-I", include, "-o", @out, @src]

      {out, status} = System.cmd(cc, args, stderr_to_stdout: true)
      if status != 0, do: Mix.raise("building #{@out} failed:\n" <> out)
      {:ok, []}
    else
      {:noop, []}
    end
  end

  defp stale?() do
    case {File.stat(@out, time: :posix), File.stat!(@src, time: :posix)} do
      {{:ok, %{mtime: built}}, %{mtime: src}} -> src > built
      _ -> true
    end
  end
end
