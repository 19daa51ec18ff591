defmodule Store.KV.MergeTest do
  # Merges through the engine's merge operators, as erlang-rocksdb offers
  # them, and through the read cache.
  use Store.KV.EngineCase, async: true
  @moduletag :tmp_dir

  test "the erlang operator merges terms, alone and in batches", %{tmp_dir: dir} do
    e = start_engine(dir, merge_operator: "erlang", read_cache_size: 1000)
    :ok = Engine.put(e, "n", :erlang.term_to_binary(1))
    assert {:ok, _} = Engine.get(e, "n"), "now cached"
    :ok = Engine.merge(e, "n", :erlang.term_to_binary({:int_add, 41}))
    assert {:ok, bin} = Engine.get(e, "n")
    assert :erlang.binary_to_term(bin) == 42, "the cache saw the merge"

    :ok =
      Engine.write_batch(e, [
        {:merge, "l", :erlang.term_to_binary({:list_append, [:a, :b]})},
        {:merge, "l", :erlang.term_to_binary({:list_substract, [:a]})}
      ])

    assert {:ok, l} = Engine.get(e, "l")
    assert :erlang.binary_to_term(l) == [:b]
    assert {:error, {:badarg, _}} = Engine.merge(e, "n", :not_a_binary)
  end

  test "counter and bitset operators", %{tmp_dir: dir} do
    c = start_engine(Path.join(dir, "c"), merge_operator: "counter")
    for n <- ["1", "2", "-1"], do: :ok = Engine.merge(c, "c", n)
    assert {:ok, "2"} = Engine.get(c, "c")

    b = start_engine(Path.join(dir, "b"), merge_operator: "bitset", merge_bitset_bits: 64)
    :ok = Engine.merge(b, "bits", "+9")
    assert {:ok, <<0, 0x40, 0::48>>} = Engine.get(b, "bits")
  end

  test "a merge without an operator is refused and nothing else stops", %{tmp_dir: dir} do
    e = start_engine(dir)
    assert {:error, {:badarg, msg}} = Engine.merge(e, "k", "1")
    assert msg =~ "merge operator"
    assert {:error, {:badarg, _}} = Engine.write_batch(e, [{:put, "a", "1"}, {:merge, "k", "1"}])
    assert {:error, :not_found} = Engine.get(e, "a"), "the whole batch was refused"
    assert :ok = Engine.put(e, "a", "1")
  end
end
