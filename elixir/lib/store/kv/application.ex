defmodule Store.KV.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children =
      case Application.get_env(:spire_port, :engine) do
        opts when is_list(opts) -> [{Store.KV.Engine, opts}]
        _ -> []
      end

    Supervisor.start_link(children, strategy: :one_for_one, name: Store.KV.Supervisor)
  end
end
