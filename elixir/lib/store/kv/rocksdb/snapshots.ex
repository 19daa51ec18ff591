defmodule Store.KV.RocksDB.Snapshots do
  @moduledoc false
  # Snapshots: a view of the database kept by the sidecar.

  use Store.KV.RocksDB.Handles

  @doc "A consistent view of the whole database."
  @spec snapshot(R.db_handle()) :: {:ok, R.snapshot_handle()} | {:error, term()}
  def snapshot(db) do
    name = engine!(db)

    with {:ok, {:snapshot, id}} <- checked(name, Engine.snapshot(name)),
         do: {:ok, {@snap, name, id}}
  end

  @doc "Releases a snapshot."
  @spec release_snapshot(R.snapshot_handle()) :: :ok | {:error, term()}
  def release_snapshot({@snap, name, id}) when is_atom(name),
    do: checked(name, Engine.release_snapshot(name, {:snapshot, id}))

  def release_snapshot(_), do: :erlang.error(:badarg)
end
