defmodule Store.KV.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    # The :rocksdb API's tables and the engines its open/2,3 starts come
    # first, so a configured engine's handles can be made at once.
    rocksdb = [
      Store.KV.RocksDB.Registry,
      {DynamicSupervisor,
       name: Store.KV.RocksDB.Engines, strategy: :one_for_one, max_restarts: 100, max_seconds: 10}
    ]

    children =
      case Application.get_env(:spire_port, :engine) do
        opts when is_list(opts) -> rocksdb ++ [{Store.KV.Engine, opts}]
        _ -> rocksdb
      end

    Supervisor.start_link(children, strategy: :one_for_one, name: Store.KV.Supervisor)
  end
end
