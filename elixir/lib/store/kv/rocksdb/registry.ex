defmodule Store.KV.RocksDB.Registry do
  @moduledoc false
  # Owns the tables behind Store.KV.RocksDB's handles, so they outlive any
  # engine (a sidecar restart keeps every handle valid), and closes what a
  # process opened when it exits: the databases opened with open/2,3 and
  # the iterators it made, as the NIF does when its resources are
  # collected.
  #
  #   @dbs       {name, path, opener | nil}: databases handles may name
  #   @iterators {itr, name, epoch, sid, wire_opts, ahead}: an iterator's home
  #   @buffers   {itr, gen, rows, reverse, more}: its rows read ahead
  #   @batches   {batch, op} (duplicate_bag: ops in the order added) and
  #              {{:savepoints, batch}, ops before the mark}
  #   @objects   {ref, kind, data}: caches, rate limiters, statistics
  use GenServer

  @dbs :spire_rocksdb_dbs
  @iterators :spire_rocksdb_iterators
  @buffers :spire_rocksdb_buffers
  @batches :spire_rocksdb_batches
  @objects :spire_rocksdb_objects

  @doc false
  def dbs, do: @dbs
  @doc false
  def iterators, do: @iterators
  @doc false
  def buffers, do: @buffers
  @doc false
  def batches, do: @batches
  @doc false
  def objects, do: @objects

  @doc false
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(_), do: GenServer.start_link(__MODULE__, [], name: __MODULE__)

  @doc "Closes db (an engine name) when `pid` exits."
  @spec watch_db(pid(), atom()) :: :ok
  def watch_db(pid, name), do: GenServer.cast(__MODULE__, {:watch, pid, {:db, name}})

  @doc "Closes the iterator when `pid` exits."
  @spec watch_iterator(pid(), reference()) :: :ok
  def watch_iterator(pid, itr), do: GenServer.cast(__MODULE__, {:watch, pid, {:iterator, itr}})

  @doc "Forgets a watched resource (it was closed)."
  @spec unwatch(term()) :: :ok
  def unwatch(resource), do: GenServer.cast(__MODULE__, {:unwatch, resource})

  @impl true
  def init(_) do
    opts = [:public, :named_table, read_concurrency: true, write_concurrency: true]
    :ets.new(@dbs, [:set | opts])
    :ets.new(@iterators, [:set | opts])
    :ets.new(@buffers, [:set | opts])
    :ets.new(@batches, [:duplicate_bag | opts])
    :ets.new(@objects, [:set | opts])
    # pid => {monitor, MapSet of resources}; resource => pid
    {:ok, %{pids: %{}, owners: %{}}}
  end

  @impl true
  def handle_cast({:watch, pid, resource}, state) do
    {mref, set} =
      case state.pids do
        %{^pid => {mref, set}} -> {mref, set}
        _ -> {Process.monitor(pid), MapSet.new()}
      end

    {:noreply,
     %{
       state
       | pids: Map.put(state.pids, pid, {mref, MapSet.put(set, resource)}),
         owners: Map.put(state.owners, resource, pid)
     }}
  end

  def handle_cast({:unwatch, resource}, state) do
    case Map.pop(state.owners, resource) do
      {nil, _} ->
        {:noreply, state}

      {pid, owners} ->
        {mref, set} = Map.fetch!(state.pids, pid)
        set = MapSet.delete(set, resource)

        pids =
          if MapSet.size(set) == 0 do
            Process.demonitor(mref, [:flush])
            Map.delete(state.pids, pid)
          else
            Map.put(state.pids, pid, {mref, set})
          end

        {:noreply, %{state | pids: pids, owners: owners}}
    end
  end

  @impl true
  def handle_info({:DOWN, _mref, :process, pid, _}, state) do
    case Map.pop(state.pids, pid) do
      {nil, _} ->
        {:noreply, state}

      {{_mref, set}, pids} ->
        # Iterators first: closing their database would leave them nothing
        # to close.
        {its, dbs} = Enum.split_with(set, &match?({:iterator, _}, &1))
        for {:iterator, itr} <- its, do: Store.KV.RocksDB.Iterator.close(itr)
        for {:db, name} <- dbs, do: Store.KV.RocksDB.close_name(name)
        {:noreply, %{state | pids: pids, owners: Map.drop(state.owners, MapSet.to_list(set))}}
    end
  end

  def handle_info(_msg, state), do: {:noreply, state}
end
