defmodule Store.KV.RocksDB.Registry do
  @moduledoc false
  # Owns the tables behind Store.KV.RocksDB's handles, so they outlive any
  # engine (a sidecar restart keeps every handle valid), and closes what a
  # handle named once no term references the handle any more, as the NIF
  # does when its resources are collected: each handle carries a
  # Store.KV.RocksDB.Life resource whose collection sends this process
  # {:"$spire_handle_gone", key}.
  #
  #   @dbs       {name, path, token | nil}: databases handles may name (nil: a
  #              shared engine, get_db_ref/1; token: the open/2,3 it came from)
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

  @doc """
  Returns once every handle collected before the call is closed: the
  news of a collection is a message to this process, read in order.
  """
  @spec sync() :: true
  def sync, do: GenServer.call(__MODULE__, :sync, :infinity)

  @impl true
  def init(_) do
    opts = [:public, :named_table, read_concurrency: true, write_concurrency: true]
    :ets.new(@dbs, [:set | opts])
    :ets.new(@iterators, [:set | opts])
    :ets.new(@buffers, [:set | opts])
    :ets.new(@batches, [:duplicate_bag | opts])
    :ets.new(@objects, [:set | opts])
    {:ok, %{}}
  end

  @impl true
  def handle_call(:sync, _from, state), do: {:reply, true, state}

  @impl true
  def handle_info({:"$spire_handle_gone", key}, state) do
    collected(key)
    {:noreply, state}
  end

  def handle_info(_msg, state), do: {:noreply, state}

  # A failure here is the closing handle's alone: it must not take the
  # tables down with this process.
  defp collected(key) do
    case key do
      {:db, name, token} -> Store.KV.RocksDB.DB.collected(name, token)
      {:itr, itr} -> Store.KV.RocksDB.Iterator.close(itr)
      {:close, name, request} -> Store.KV.RocksDB.Handles.cast_close(name, request)
      {:batch, batch} -> Store.KV.RocksDB.Batches.collected(batch)
      {:object, ref} -> :ets.delete(@objects, ref)
    end
  catch
    kind, reason ->
      require Logger
      Logger.warning("rocksdb: closing a collected #{inspect(key)}: #{inspect({kind, reason})}")
  end
end
