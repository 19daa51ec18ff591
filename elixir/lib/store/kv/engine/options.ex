defmodule Store.KV.Engine.Options do
  @moduledoc false
  # Validates start_link options and maps the RocksDB ones onto the
  # SPIRE_ROCKSDB_* variables of the sidecar's environment. The RocksDB
  # options, their kinds and ranges are the sidecar's own settings table
  # (`spire-port --describe`, read once per binary), not a copy; the
  # sidecar applies the defaults of what is not set.

  @general [
    path: nil,
    name: Store.KV.Engine,
    binary: nil,
    timeout: 5_000,
    column_families: [],
    idle_timeout: nil,
    max_handles: nil,
    max_frame: nil,
    lock_timeout: 5_000,
    # The one sidecar default restated here: the argument the sidecar gets
    # is visible (and tested) in its command line.
    spin: 50,
    busy_spin: nil,
    reply_socket: false,
    reply_spin: 50,
    data_dir: nil,
    checkpoint_roots: nil,
    read_cache_size: 0,
    read_only: false
  ]

  @doc """
  The sidecar's settings: `%{option => {env_var, spec}}`, spec `{:int, lo,
  hi}`, `{:one_of, [choice]}` or `:bool`, from `spire-port --describe`.
  """
  @spec settings(String.t()) :: %{atom() => {String.t(), term()}}
  def settings(binary) do
    case :persistent_term.get({__MODULE__, binary}, nil) do
      nil when not is_binary(binary) or binary == "" ->
        %{}

      nil ->
        # A binary that is not there fails the start itself
        # ({:binary_not_found, path}); until then there is nothing to ask.
        if File.regular?(binary), do: remember(binary), else: %{}

      settings ->
        settings
    end
  end

  defp remember(binary) do
    settings = describe(binary)
    :persistent_term.put({__MODULE__, binary}, settings)
    settings
  end

  defp describe(binary) do
    {out, 0} = System.cmd(binary, ["--describe"])

    for {option, env, kind, lo, hi, choices} <- :erlang.binary_to_term(out, [:safe]), into: %{} do
      spec =
        case kind do
          "int" -> {:int, lo, hi}
          "enum" -> {:one_of, choices}
          "bool" -> :bool
          "string" -> :string
        end

      # The names are the sidecar's fixed table, and the option keys must
      # be atoms to be keyword keys.
      {String.to_atom(option), {env, spec}}
    end
  rescue
    e ->
      reraise ArgumentError,
              [
                message:
                  "cannot read the settings of #{binary} (--describe): #{Exception.message(e)}"
              ],
              __STACKTRACE__
  end

  @doc """
  Validates opts; returns the normalized keyword list or raises
  ArgumentError naming the option, the value and what is accepted.
  """
  @spec validate!(term()) :: keyword()
  def validate!(opts) do
    unless Keyword.keyword?(opts) do
      raise ArgumentError, "Store.KV.Engine options must be a keyword list, got: #{inspect(opts)}"
    end

    rocksdb = settings(binary(opts))
    opts = Keyword.validate!(opts, @general ++ Enum.map(rocksdb, fn {k, _} -> {k, nil} end))

    path = opts[:path]

    unless is_binary(path) and path != "" do
      raise ArgumentError,
            "Store.KV.Engine needs a :path (a non-empty string), got: #{inspect(path)}"
    end

    check!(
      :timeout,
      opts[:timeout],
      fn t -> (is_integer(t) and t > 0) or t == :infinity end,
      "a positive integer or :infinity"
    )

    check!(
      :idle_timeout,
      opts[:idle_timeout],
      &(is_nil(&1) or &1 == :infinity or (is_integer(&1) and &1 > 0)),
      "a positive integer (ms) or :infinity"
    )

    check!(
      :max_handles,
      opts[:max_handles],
      &(is_nil(&1) or (is_integer(&1) and &1 > 0 and &1 <= 0x7FFFFFFF)),
      "an integer in 1..2147483647"
    )

    check!(
      :max_frame,
      opts[:max_frame],
      &(is_nil(&1) or (is_integer(&1) and &1 >= 64)),
      "an integer >= 64"
    )

    check!(
      :lock_timeout,
      opts[:lock_timeout],
      &(is_integer(&1) and &1 >= 0),
      "a non-negative integer (ms)"
    )

    for key <- [:spin, :busy_spin] do
      check!(
        key,
        opts[key],
        &(is_nil(&1) or (is_integer(&1) and &1 >= 0 and &1 <= 10_000)),
        "an integer 0..10000 (µs)"
      )
    end

    check!(:reply_socket, opts[:reply_socket], &is_boolean/1, "a boolean")
    check!(:read_only, opts[:read_only], &is_boolean/1, "a boolean")

    check!(
      :reply_spin,
      opts[:reply_spin],
      &(is_integer(&1) and &1 >= 0 and &1 <= 10_000),
      "an integer 0..10000 (µs)"
    )

    check!(:name, opts[:name], &(is_nil(&1) or is_atom(&1)), "an atom or nil")
    check!(:binary, opts[:binary], &(is_nil(&1) or is_binary(&1)), "a path")

    check!(
      :column_families,
      opts[:column_families],
      fn cfs -> is_list(cfs) and Enum.all?(cfs, &(is_binary(&1) and &1 != "")) end,
      "a list of non-empty strings"
    )

    check!(
      :read_cache_size,
      opts[:read_cache_size],
      &(is_integer(&1) and &1 >= 0),
      "a non-negative integer (bytes; 0 = no read cache)"
    )

    check!(:data_dir, opts[:data_dir], &(is_nil(&1) or (is_binary(&1) and &1 != "")), "a path")

    check!(
      :checkpoint_roots,
      opts[:checkpoint_roots],
      fn roots ->
        is_nil(roots) or (is_list(roots) and Enum.all?(roots, &(is_binary(&1) and &1 != "")))
      end,
      "a list of directories"
    )

    for {key, {_env, spec}} <- rocksdb, value <- [opts[key]], value != nil do
      validate_rocksdb!(key, value, spec)
    end

    opts
  end

  defp validate_rocksdb!(key, value, {:int, lo, hi}) do
    check!(key, value, &(is_integer(&1) and &1 >= lo and &1 <= hi), "an integer #{lo}..#{hi}")
  end

  defp validate_rocksdb!(key, value, :bool),
    do: check!(key, value, &is_boolean/1, "true or false")

  # The sidecar parses it (RocksDB's option-string syntax) and refuses what
  # it cannot: here only its shape.
  defp validate_rocksdb!(key, value, :string),
    do: check!(key, value, &(is_binary(&1) and not String.contains?(&1, <<0>>)), "a string")

  defp validate_rocksdb!(key, value, {:one_of, choices}) do
    ok? = fn v -> (is_atom(v) or is_binary(v)) and to_string(v) in choices end
    check!(key, value, ok?, "one of #{Enum.map_join(choices, ", ", &(":" <> &1))}")
  end

  defp check!(key, value, ok?, accepted) do
    unless ok?.(value) do
      raise ArgumentError,
            "invalid Store.KV.Engine option #{inspect(key)}: #{inspect(value)}; want #{accepted}"
    end
  end

  @doc "The environment of the sidecar: the RocksDB options given, as SPIRE_ROCKSDB_* pairs."
  @spec env(keyword()) :: [{charlist(), charlist()}]
  def env(opts) do
    for {key, {var, _}} <- settings(binary(opts)), value <- [opts[key]], value != nil do
      {String.to_charlist(var), value |> to_string() |> String.to_charlist()}
    end
  end

  @doc "Command-line arguments of the sidecar."
  @spec args(keyword()) :: [String.t()]
  def args(opts) do
    families = Enum.flat_map(opts[:column_families], &["--column-family", &1])
    data_dir = if opts[:data_dir], do: ["--data-dir", opts[:data_dir]], else: []
    roots = Enum.flat_map(opts[:checkpoint_roots] || [], &["--checkpoint-root", &1])

    # Only what was set: the sidecar applies its own defaults.
    flags =
      for {key, flag, unit} <- [
            {:max_frame, "--max-frame", ""},
            {:idle_timeout, "--idle-timeout", "ms"},
            {:max_handles, "--max-iterators", ""},
            {:max_handles, "--max-snapshots", ""},
            {:spin, "--spin", "us"},
            {:busy_spin, "--busy-spin", "us"}
          ],
          value <- [opts[key]],
          value != nil,
          do: [flag, if(value == :infinity, do: "0", else: "#{value}#{unit}")]

    read_only = if opts[:read_only], do: ["--read-only"], else: []

    ["--log-frames", "--path", opts[:path]] ++
      List.flatten(flags) ++ families ++ data_dir ++ roots ++ read_only
  end

  @doc """
  The spire-port executable: the :binary option, else the :binary of the
  :spire_port application environment, else $SPIRE_PORT_BINARY, else the
  one `make build` (or `mix compile`) writes to bin/ at the repository root.
  """
  @spec binary(keyword()) :: String.t()
  def binary(opts) do
    opts[:binary] || Application.get_env(:spire_port, :binary) ||
      System.get_env("SPIRE_PORT_BINARY") || Path.expand("../../../../../bin/spire-port", __DIR__)
  end
end
