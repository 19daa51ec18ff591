defmodule Store.KV.RocksDB.Snapshots do
  @moduledoc false
  # Snapshots: a view of the database kept by the sidecar.

  use Store.KV.RocksDB.Handles

  @doc "A consistent view of the whole database."
  @spec snapshot(R.db_handle()) :: {:ok, R.snapshot_handle()} | {:error, term()}
  def snapshot(db) do
    name = engine!(db)

    # Not Engine.snapshot/1: that one closes with the process that took
    # it; this one lives while its handle does, as the NIF's.
    with {:ok, id} <- checked(name, Engine.Caller.call(name, {:snapshot_open}, nil)),
         do: {:ok, {@snap, name, id, new_life({:close, name, {:snapshot_close, id}}, life(db))}}
  end

  @doc "Releases a snapshot."
  @spec release_snapshot(R.snapshot_handle()) :: :ok | {:error, term()}
  def release_snapshot({@snap, name, id, life}) when is_atom(name) do
    # Released twice is badarg, as a released NIF snapshot is no snapshot.
    if Life.disarm(life) == :already, do: :erlang.error(:badarg)
    checked(name, Engine.Caller.call(name, {:snapshot_close, id}, nil))
  end

  def release_snapshot(_), do: :erlang.error(:badarg)

  @doc "The sequence number the snapshot sees: every write at or below it, none after."
  @spec get_snapshot_sequence(R.snapshot_handle()) :: non_neg_integer()
  def get_snapshot_sequence({@snap, name, _id, _life} = snap) when is_atom(name) do
    # A released snapshot is no snapshot: badarg, as the NIF's.
    case checked(
           name,
           Engine.Caller.call(name, {:snapshot_sequence, snapshot_id!(name, snap)}, nil)
         ) do
      {:ok, seq} -> seq
      _ -> :erlang.error(:badarg)
    end
  end

  def get_snapshot_sequence(_), do: :erlang.error(:badarg)
end
