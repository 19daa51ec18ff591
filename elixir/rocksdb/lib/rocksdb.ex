defmodule :rocksdb do
  @moduledoc """
  erlang-rocksdb's `:rocksdb` module over spire-port. A project that
  depends on this application instead of hex package `rocksdb` calls
  `:rocksdb` as before and gets RocksDB in a sidecar process instead of a
  NIF. Every function delegates to the function of the same name and arity
  in `Store.KV.RocksDB`, which has the docs, the specs and the list of
  differences from the NIF.
  """

  # Store.KV.RocksDB's helpers for spire-port's own code, not erlang-rocksdb's API.
  @not_api [db_handle: 1, cf_handle: 2, column_families: 1]

  # A bad argument raises badarg (error:badarg, ArgumentError in Elixir)
  # as the NIF's does, also where Store.KV.RocksDB refused it with a guard,
  # a match or a protocol: code written against the NIF catches badarg.
  # What a caller's own fun raises (fold/4,5) goes through as it was.
  # The arguments stay referenced until the call returns (Life.keep/1).
  for {mod, fun, arity} <- Store.KV.RocksDB.__api__(),
      {fun, arity} not in @not_api do
    args = Macro.generate_arguments(arity, __MODULE__)
    @doc "`#{inspect(mod)}.#{fun}/#{arity}`."
    def unquote(fun)(unquote_splicing(args)) do
      result = unquote(mod).unquote(fun)(unquote_splicing(args))
      unquote_splicing(for arg <- args, do: quote(do: Store.KV.RocksDB.Life.keep(unquote(arg))))
      result
    catch
      :error, reason -> Store.KV.RocksDB.Args.reraise_raw(reason, __STACKTRACE__)
    end
  end
end
