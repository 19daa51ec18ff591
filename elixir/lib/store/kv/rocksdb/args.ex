defmodule Store.KV.RocksDB.Args do
  @moduledoc false
  # The checks of the arguments :rocksdb's functions share, in one place,
  # so that every bad argument is refused as the NIF refuses it: with
  # `badarg` (an ArgumentError in Elixir) before any work is done.
  #
  # Paths are bounded before they are converted or expanded (a 32 MiB path
  # would hold the caller in Path.expand for seconds), and a NUL byte is
  # refused (C would read the path up to it: "victim\0/x" names "victim").

  @max_path 4095

  # Set while a caller's fun runs (fold/4,5): what it raises is its own,
  # not a bad argument (see `user_call/3` and :rocksdb's delegates).
  @user_fun :"$spire_rocksdb_user_fun"

  @doc false
  @spec badarg() :: no_return()
  def badarg, do: :erlang.error(:badarg)

  @doc """
  A file name as a binary: a binary, or a flat charlist of Unicode code
  points, of at most 4095 bytes and 255 per component, without NUL; the
  empty name comes back as "" for the caller to refuse in its own words.
  """
  @spec path!(term()) :: String.t()
  def path!(path) when is_binary(path) and byte_size(path) <= @max_path, do: checked_path(path)

  def path!(path) when is_list(path) do
    # At most 4 bytes a code point: a list this short is bounded work.
    if bounded_length(path, @max_path) == :too_long, do: badarg()

    case :unicode.characters_to_binary(path) do
      bin when is_binary(bin) and byte_size(bin) <= @max_path -> checked_path(bin)
      _ -> badarg()
    end
  end

  def path!(_), do: badarg()

  defp checked_path(bin) do
    unless String.valid?(bin) and Store.KV.Engine.Tool.path_bounds?(bin), do: badarg()
    bin
  end

  @doc "A checked path made absolute; `nil` for an empty one."
  @spec expand!(term()) :: String.t() | nil
  def expand!(path) do
    case path!(path) do
      "" -> nil
      bin -> checked_path(Path.expand(bin))
    end
  end

  defp bounded_length([], _), do: :ok
  defp bounded_length(_, 0), do: :too_long
  defp bounded_length([c | rest], n) when is_integer(c), do: bounded_length(rest, n - 1)
  defp bounded_length(_, _), do: :too_long

  @doc """
  A column family name as the bytes RocksDB keeps: a binary, or a flat
  charlist of Latin-1 characters (as the NIF reads names), non-empty.
  """
  @spec cf_name!(term()) :: binary()
  def cf_name!(name) when is_binary(name) and byte_size(name) in 1..@max_path, do: name

  def cf_name!(name) when is_list(name) and name != [] do
    if bounded_length(name, @max_path) == :too_long, do: badarg()

    try do
      :erlang.list_to_binary(name)
    rescue
      ArgumentError -> badarg()
    end
    |> cf_name!()
  end

  def cf_name!(_), do: badarg()

  @doc "An option list: a proper list, as the NIF requires of every one."
  @spec opts!(term()) :: list()
  def opts!(opts) when is_list(opts) do
    if proper?(opts), do: opts, else: badarg()
  end

  def opts!(_), do: badarg()

  defp proper?([]), do: true
  defp proper?([_ | rest]), do: proper?(rest)
  defp proper?(_), do: false

  @doc "Calls a caller's fun; what it raises is marked as the caller's (see :rocksdb)."
  @spec user_call(fun(), term(), term()) :: term()
  def user_call(fun, a, b) do
    fun.(a, b)
  catch
    :error, reason ->
      Process.put(@user_fun, true)
      :erlang.raise(:error, reason, __STACKTRACE__)
  end

  @doc """
  Re-raises the error `reason` (raw, as `catch :error, reason` sees it)
  that left a delegate of :rocksdb: as the atom `badarg` where one of
  Store.KV.RocksDB's checks let a bad argument through to a guard, a match
  or a protocol, unless a caller's fun raised it; else as it was. Raw, so
  that Erlang callers see `error:badarg` as the NIF raises it (Elixir ones
  an ArgumentError).
  """
  @spec reraise_raw(term(), Exception.stacktrace()) :: no_return()
  def reraise_raw(reason, stacktrace) do
    if Process.delete(@user_fun) != true and refused?(reason),
      do: :erlang.raise(:error, :badarg, stacktrace),
      else: :erlang.raise(:error, reason, stacktrace)
  end

  @refused_structs [
    ArgumentError,
    FunctionClauseError,
    CaseClauseError,
    CondClauseError,
    WithClauseError,
    MatchError,
    BadMapError,
    BadStructError,
    BadBooleanError,
    BadFunctionError,
    BadArityError,
    KeyError,
    ArithmeticError,
    Protocol.UndefinedError,
    UnicodeConversionError
  ]

  defp refused?(reason) when is_atom(reason), do: reason in [:badarg, :function_clause, :badarith]

  defp refused?(%{__exception__: true, __struct__: s}), do: s in @refused_structs

  defp refused?(reason) when is_tuple(reason) and tuple_size(reason) > 0,
    do:
      elem(reason, 0) in [
        :case_clause,
        :badmatch,
        :badmap,
        :badkey,
        :try_clause,
        :with_clause,
        :badfun,
        :badarity,
        :bad_generator
      ]

  defp refused?(_), do: false
end
