defmodule Store.KV.RocksDB.Life do
  @moduledoc false
  # The lifetime of :rocksdb's handles (c_src/spire_life.c): a resource
  # that holds a key and the handles it keeps alive, and tells the Registry
  # `{:"$spire_handle_gone", key}` once no term references it, as the NIF's
  # resources close themselves when collected. The only native code this
  # project runs inside the BEAM: it allocates, copies terms and sends one
  # message, and calls nothing else (docs/spiredb.md, "Crash isolation").

  @on_load :load_nif

  @doc false
  def load_nif do
    path = :spire_port |> :code.priv_dir() |> :filename.join(~c"spire_life")
    :erlang.load_nif(path, 0)
  end

  @doc "A handle whose collection sends `{:\"$spire_handle_gone\", key}` to `owner`; it keeps `held` alive."
  @spec new(pid(), term(), term()) :: reference()
  def new(_owner, _key, _held), do: :erlang.nif_error(:not_loaded)

  @doc "Marks the handle's key closed: its collection sends nothing. `:already` when it was."
  @spec disarm(reference()) :: :ok | :already
  def disarm(_handle), do: :erlang.nif_error(:not_loaded)

  @doc """
  Does nothing, and is called after each API call with its arguments: a
  handle passed to a call is then referenced until the call returns, as a
  NIF's resource argument is. Without it, the compiler lets go of a handle
  after its last use inside the call, and a collection during the call's
  wait could close the database under it.
  """
  @spec keep(term()) :: :ok
  def keep(_term), do: :ok

  @doc "Whether the handle's key is still open (not disarmed)."
  @spec armed?(reference()) :: boolean()
  def armed?(_handle), do: :erlang.nif_error(:not_loaded)
end
