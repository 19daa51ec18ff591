defmodule Store.KV.Engine.Error do
  @moduledoc """
  Raised by a `Store.KV.Engine.scan_stream/4` stream when the engine fails
  while it is enumerated (a Stream cannot return `{:error, reason}`).
  """
  defexception [:reason]

  @impl true
  def message(%{reason: reason}), do: "Store.KV.Engine stream failed: #{inspect(reason)}"
end
