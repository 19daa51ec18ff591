defmodule Store.KV.Engine.ReadCache do
  @moduledoc false
  # An opt-in cache of point reads in ETS (`read_cache_size:`), so a hot
  # key is answered without crossing the pipe.
  #
  # The promise: a read never returns a value older than the last write to
  # that key that was acknowledged before the read began. How it is kept:
  #
  #   * Keys hash to one of @slots generation counters; slot 1 is a global
  #     generation. An entry is {key, value, slot_gen, global_gen}, the
  #     generations read BEFORE the get that fetched it was sent, and a hit
  #     needs both to be unchanged.
  #   * Every write bumps its keys' slots (delete_range and anything that
  #     may touch unknown keys bump the global one) AFTER its reply came
  #     and BEFORE it returns to its caller, whether it succeeded, failed
  #     or timed out.
  #
  # So for a write W acknowledged before a read R began: W's bump precedes
  # R's lookup. An entry filled from a get sent before W's bump carries the
  # old generation, is refused from then on, and may hold only a value W's
  # caller had not been told was replaced; an entry filled from a get sent
  # after the bump was read by the sidecar after W was applied (a reply
  # means applied). Column families other than default and snapshot reads
  # bypass the cache; the table and counters belong to the engine process,
  # so a restart of the sidecar (which restarts that process) starts empty.

  @slots 4096
  @entry_overhead 64

  @enforce_keys [:tab, :gens, :stats, :budget]
  defstruct [:tab, :gens, :stats, :budget]

  @type t :: %__MODULE__{}

  @doc "A cache of at most `budget` bytes of keys and values, or nil for 0."
  @spec new(non_neg_integer()) :: t() | nil
  def new(0), do: nil

  def new(budget) do
    %__MODULE__{
      tab: :ets.new(__MODULE__, [:set, :public, read_concurrency: true, write_concurrency: true]),
      gens: :atomics.new(@slots + 1, signed: false),
      # hits, misses, bytes held
      stats: :atomics.new(3, signed: false),
      budget: budget
    }
  end

  defp slot(key), do: :erlang.phash2(key, @slots) + 2

  @doc "The cached value of key, else fetch.() (cached when it is {:ok, value})."
  @spec get(t(), binary(), (() -> term())) :: term()
  def get(%__MODULE__{tab: tab, gens: gens, stats: stats} = c, key, fetch) do
    slot = slot(key)

    case :ets.lookup(tab, key) do
      [{_, value, sg, gg}] ->
        if :atomics.get(gens, slot) == sg and :atomics.get(gens, 1) == gg do
          :atomics.add(stats, 1, 1)
          {:ok, value}
        else
          miss(c, key, slot, fetch)
        end

      [] ->
        miss(c, key, slot, fetch)
    end
  end

  defp miss(%__MODULE__{tab: tab, gens: gens, stats: stats, budget: budget}, key, slot, fetch) do
    :atomics.add(stats, 2, 1)
    sg = :atomics.get(gens, slot)
    gg = :atomics.get(gens, 1)

    case fetch.() do
      {:ok, value} = result ->
        size = byte_size(key) + byte_size(value) + @entry_overhead

        if size <= budget do
          # Over budget: start again rather than track what to evict.
          if :atomics.add_get(stats, 3, size) > budget do
            :ets.delete_all_objects(tab)
            :atomics.put(stats, 3, size)
          end

          :ets.insert(tab, {key, value, sg, gg})
        end

        result

      other ->
        other
    end
  end

  @doc "A write to key (of the default column family) was answered."
  @spec written(t() | nil, binary()) :: :ok
  def written(nil, _key), do: :ok

  def written(%__MODULE__{gens: gens}, key) do
    :atomics.add(gens, slot(key), 1)
    :ok
  end

  @doc "A write that may touch any key (a range, or an unknown set) was answered."
  @spec written_all(t() | nil) :: :ok
  def written_all(nil), do: :ok

  def written_all(%__MODULE__{gens: gens}) do
    :atomics.add(gens, 1, 1)
    :ok
  end

  @doc "Hits, misses, bytes and entries."
  @spec stats(t() | nil) :: map()
  def stats(nil), do: %{enabled: false}

  def stats(%__MODULE__{tab: tab, stats: stats, budget: budget}) do
    %{
      enabled: true,
      hits: :atomics.get(stats, 1),
      misses: :atomics.get(stats, 2),
      bytes: :atomics.get(stats, 3),
      entries: :ets.info(tab, :size),
      budget: budget
    }
  end
end
