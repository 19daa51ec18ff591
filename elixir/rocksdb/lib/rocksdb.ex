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
  @not_api [close_name: 1, db_handle: 1, cf_handle: 2, column_families: 1]

  for {fun, arity} <- Store.KV.RocksDB.__info__(:functions),
      {fun, arity} not in @not_api do
    args = Macro.generate_arguments(arity, __MODULE__)
    @doc "`Store.KV.RocksDB.#{fun}/#{arity}`."
    def unquote(fun)(unquote_splicing(args)),
      do: Store.KV.RocksDB.unquote(fun)(unquote_splicing(args))
  end
end
