defmodule Store.KV.Engine.Error do
  @moduledoc """
  Raised by a `Store.KV.Engine.scan_stream/4` stream when the engine fails
  while it is enumerated (a Stream cannot return `{:error, reason}`).

  `kind/1` classifies any error reason, so callers match a class instead of
  a message: `{:error, {:rocksdb, msg}}` keeps RocksDB's own status text on
  the wire, and its class comes from the text's prefix (the same table as
  the sidecar's `engine/kv/status.go`).

      case Store.KV.Engine.put(engine, k, v) do
        :ok -> :ok
        {:error, reason} ->
          case Store.KV.Engine.Error.kind(reason) do
            :io_error -> :retry_later
            :corruption -> :alarm
            _ -> {:error, reason}
          end
      end
  """
  defexception [:reason]

  @type kind ::
          :io_error
          | :corruption
          | :invalid_argument
          | :not_supported
          | :busy
          | :timed_out
          | :incomplete
          | :aborted
          | :try_again
          | :not_found
          | :other
          | :badarg
          | :engine_down
          | :timeout
          | :unknown_column_family
          | :too_many_iterators
          | :too_many_snapshots

  @status_prefixes [
    {"IO error", :io_error},
    {"Corruption", :corruption},
    {"Invalid argument", :invalid_argument},
    {"Not implemented", :not_supported},
    {"Operation not supported", :not_supported},
    {"Resource busy", :busy},
    {"Operation timed out", :timed_out},
    {"Result incomplete", :incomplete},
    {"Operation aborted", :aborted},
    {"Operation failed. Try again.", :try_again},
    {"NotFound", :not_found}
  ]

  @impl true
  def message(%{reason: reason}), do: "Store.KV.Engine stream failed: #{inspect(reason)}"

  @doc """
  The class of an error reason (`{:error, reason}`'s second element):
  RocksDB's status classes for `{:rocksdb, msg}` (`:io_error`,
  `:corruption`, `:invalid_argument`, `:not_supported`, `:busy`,
  `:timed_out`, `:incomplete`, `:aborted`, `:try_again`, `:not_found`,
  else `:other`), and the reason's own name for the others (`:badarg`,
  `:engine_down`, `:timeout`, `:not_found`, ...).

      iex> Store.KV.Engine.Error.kind({:rocksdb, "IO error: No space left on device"})
      :io_error
      iex> Store.KV.Engine.Error.kind({:badarg, "key must be a binary"})
      :badarg
      iex> Store.KV.Engine.Error.kind(:engine_down)
      :engine_down
  """
  @spec kind(term()) :: kind() | atom()
  def kind({:rocksdb, msg}) when is_binary(msg) do
    Enum.find_value(@status_prefixes, :other, fn {prefix, kind} ->
      if String.starts_with?(msg, prefix), do: kind
    end)
  end

  def kind({name, _detail}) when is_atom(name), do: name
  def kind(name) when is_atom(name), do: name
  def kind(_), do: :other
end
