defmodule RocksdbHostileArgsTest do
  # Bad arguments to :rocksdb get what the NIF gives them: badarg
  # (ArgumentError), or the NIF's error tuple. Nothing else is raised,
  # nothing hangs, nothing is lost.
  use ExUnit.Case, async: false
  @moduletag :tmp_dir
  @moduletag timeout: 300_000

  defp open!(dir, name) do
    path = Path.join(dir, name)
    {:ok, db} = :rocksdb.open(String.to_charlist(path), create_if_missing: true)
    {db, path}
  end

  defp exports do
    for {f, a} <- :rocksdb.module_info(:exports), f not in [:module_info, :__info__], do: {f, a}
  end

  # One call, in a process of its own so that a hang is caught: the
  # result, or the exception's module.
  defp outcome(f, args) do
    task =
      Task.async(fn ->
        try do
          {:returned, apply(:rocksdb, f, args)}
        rescue
          e -> {:raised, e.__struct__}
        catch
          kind, reason -> {:raised, {kind, reason}}
        end
      end)

    case Task.yield(task, 30_000) || Task.shutdown(task, :brutal_kill) do
      {:ok, result} -> result
      nil -> {:hung, f, args}
    end
  end

  test "every export with bad arguments of every type raises ArgumentError or answers",
       %{tmp_dir: dir} do
    {keep, _} = open!(dir, "keep")
    :ok = :rocksdb.put(keep, "k", "v", [])
    {victim, victim_path} = open!(dir, "victim")
    {:ok, batch} = :rocksdb.batch()
    {:ok, itr} = :rocksdb.iterator(victim, [])
    {:ok, cache} = :rocksdb.new_cache(:lru, 1024)

    pool = [
      nil,
      -1,
      0,
      2 ** 64,
      1.5,
      "",
      "a\0b",
      :binary.copy("x", 5000),
      # A charlist path, inside the test's directory: opens may succeed.
      String.to_charlist(Path.join(dir, "chars")),
      [1 | 2],
      [:not, :a, :proplist],
      [{:sync, :maybe}],
      :atom,
      :default_column_family,
      {:a, :tuple},
      %{},
      make_ref(),
      self(),
      fn -> :ok end,
      <<0xFF, 0xFE>>,
      victim,
      batch,
      itr,
      cache
    ]

    :rand.seed(:exsss, {1, 2, 3})

    failures =
      for {f, arity} <- exports(),
          # Not on the databases this test keeps.
          f not in [:close, :destroy, :repair],
          _ <- 1..25,
          args = for(_ <- List.duplicate(nil, arity), do: Enum.random(pool)),
          result = outcome(f, args),
          not match?({:returned, _}, result) and result != {:raised, ArgumentError},
          do: {f, args, result}

    assert failures == [], "#{length(failures)} calls: #{inspect(Enum.take(failures, 10))}"
    assert {:ok, "v"} = :rocksdb.get(keep, "k", []), "the engine still serves"
    assert File.exists?(Path.join(victim_path, "CURRENT"))
    :ok = :rocksdb.close(keep)
  end

  test "paths with NUL, too long or not text are badarg, before any work", %{tmp_dir: dir} do
    {db, victim} = open!(dir, "victim")
    :ok = :rocksdb.put(db, "k", "v", [])
    :ok = :rocksdb.close(db)

    for bad <- [victim <> "\0/anything", String.to_charlist(victim) ++ [0], [0x110000]] do
      assert_raise ArgumentError, fn -> :rocksdb.destroy(bad, []) end
      assert_raise ArgumentError, fn -> :rocksdb.repair(bad, []) end
      assert_raise ArgumentError, fn -> :rocksdb.open(bad, create_if_missing: true) end
      assert_raise ArgumentError, fn -> :rocksdb.list_column_families(bad, []) end
      assert_raise ArgumentError, fn -> :rocksdb.open_backup_engine(bad) end
    end

    huge = :binary.copy("d/", 16 * 1024 * 1024)
    assert_raise ArgumentError, fn -> :rocksdb.open(huge, []) end
    assert_raise ArgumentError, fn -> :rocksdb.destroy(:binary.copy("x", 200_000), []) end

    assert_raise ArgumentError, fn ->
      :rocksdb.open(Path.join(dir, String.duplicate("n", 300)), [])
    end

    assert File.exists?(Path.join(victim, "CURRENT")), "victim survived"
    {:ok, db} = :rocksdb.open(victim, [])
    assert {:ok, "v"} = :rocksdb.get(db, "k", [])
    assert_raise ArgumentError, fn -> :rocksdb.checkpoint(db, Path.join(dir, "cp\0x")) end
    :ok = :rocksdb.close(db)
  end

  test "options, batches, handles and items of the wrong kind are badarg", %{tmp_dir: dir} do
    {db, _} = open!(dir, "db")
    assert_raise ArgumentError, fn -> :rocksdb.put(db, "k", "v", :not_a_list) end
    assert_raise ArgumentError, fn -> :rocksdb.get(db, "k", :not_a_list) end
    assert_raise ArgumentError, fn -> :rocksdb.iterator(db, readahead_size: -5) end
    assert_raise ArgumentError, fn -> :rocksdb.iterator(db, readahead_size: 2 ** 62) end
    assert_raise ArgumentError, fn -> :rocksdb.batch_put(make_ref(), "k", "v") end
    assert_raise ArgumentError, fn -> :rocksdb.batch_count(make_ref()) end
    {:ok, batch} = :rocksdb.batch()
    assert_raise ArgumentError, fn -> :rocksdb.batch_put(batch, :no_such_family, "k", "v") end
    assert_raise ArgumentError, fn -> :rocksdb.batch_delete(batch, {:cf, 1}, "k") end
    :ok = :rocksdb.release_batch(batch)
    # A released batch is no batch any more.
    assert_raise ArgumentError, fn -> :rocksdb.batch_put(batch, "k", "v") end
    {:ok, cache} = :rocksdb.new_cache(:lru, 1024)
    assert_raise ArgumentError, fn -> :rocksdb.cache_info(cache, :no_such_item) end
    assert is_integer(:rocksdb.cache_info(cache, :capacity))
    :ok = :rocksdb.close(db)
  end

  test "what a fold's own fun raises goes through as it was", %{tmp_dir: dir} do
    {db, _} = open!(dir, "db")
    :ok = :rocksdb.put(db, "k", "v", [])
    assert_raise FunctionClauseError, fn -> :rocksdb.fold(db, fn :no, :match -> 1 end, 0, []) end
    empty = Map.new()

    assert_raise KeyError, fn ->
      :rocksdb.fold_keys(db, fn _, _ -> Map.fetch!(empty, :x) end, 0, [])
    end

    assert_raise ArgumentError, fn -> :rocksdb.fold(db, :not_a_fun, 0, []) end
    # And what later calls raise is ours again.
    assert_raise ArgumentError, fn -> :rocksdb.get(db, 1, []) end
    :ok = :rocksdb.close(db)
  end

  test "column family names that are not UTF-8 list as the bytes they are", %{tmp_dir: dir} do
    {db, path} = open!(dir, "db")
    {:ok, _cf} = :rocksdb.create_column_family(db, <<0xFF, 0xFE>>, [])
    assert {:ok, names} = :rocksdb.list_column_families(path, [])
    assert [0xFF, 0xFE] in names
    :ok = :rocksdb.close(db)
    assert {:ok, ^names} = :rocksdb.list_column_families(path, [])
  end

  test "backup ids outside 32 bits are badarg and touch no backup", %{tmp_dir: dir} do
    {db, _} = open!(dir, "db")
    :ok = :rocksdb.put(db, "k", "v", [])
    {:ok, be} = :rocksdb.open_backup_engine(Path.join(dir, "backups"))
    :ok = :rocksdb.create_new_backup(be, db)
    :ok = :rocksdb.create_new_backup(be, db)
    assert_raise ArgumentError, fn -> :rocksdb.verify_backup(be, 2 ** 32 + 1) end
    assert_raise ArgumentError, fn -> :rocksdb.delete_backup(be, 2 ** 32 + 1) end
    assert_raise ArgumentError, fn -> :rocksdb.purge_old_backup(be, 2 ** 32) end
    assert {:ok, [_, _]} = :rocksdb.get_backup_info(be)
    :ok = :rocksdb.close(db)
  end

  test "a read-only open changes no schema and keeps destroy away", %{tmp_dir: dir} do
    {db, path} = open!(dir, "db")
    {:ok, cf} = :rocksdb.create_column_family(db, "rocf", [])
    for i <- 1..100, do: :ok = :rocksdb.put(db, cf, "k#{i}", "v", [])
    :ok = :rocksdb.flush(db, cf, [])
    :ok = :rocksdb.close(db)

    {:ok, ro, [_, rocf]} = :rocksdb.open_readonly(path, [], [{~c"default", []}, {~c"rocf", []}])

    assert {:error, _} = :rocksdb.create_column_family(ro, "newcf", [])
    assert {:error, _} = :rocksdb.drop_column_family(ro, rocf)
    assert {:error, _} = :rocksdb.destroy(path, [])
    assert File.exists?(Path.join(path, "CURRENT"))
    :ok = :rocksdb.close(ro)

    {:ok, db, [_, cf]} = :rocksdb.open(path, [], [{~c"default", []}, {~c"rocf", []}])
    assert length(:rocksdb.fold(db, cf, fn kv, acc -> [kv | acc] end, [], [])) == 100
    assert {:ok, names} = :rocksdb.list_column_families(path, [])
    refute ~c"newcf" in names
    :ok = :rocksdb.close(db)
  end

  test "a restore leaves what it finds at its target alone", %{tmp_dir: dir} do
    {db, _} = open!(dir, "db")
    :ok = :rocksdb.put(db, "k", "v", [])
    {:ok, be} = :rocksdb.open_backup_engine(Path.join(dir, "backups"))
    :ok = :rocksdb.create_new_backup(be, db)
    target = Path.join(dir, "target")
    File.mkdir_p!(target)

    for f <- ["keep.txt", "notes.log", "000099.log"],
        do: File.write!(Path.join(target, f), "mine")

    assert {:error, _} = :rocksdb.restore_db_from_latest_backup(be, target)
    assert Enum.sort(File.ls!(target)) == ["000099.log", "keep.txt", "notes.log"]
    assert :ok = :rocksdb.restore_db_from_latest_backup(be, Path.join(dir, "fresh"))
    :ok = :rocksdb.close(db)
  end

  test "an empty iterate_upper_bound is an empty iterator", %{tmp_dir: dir} do
    {db, _} = open!(dir, "db")
    :ok = :rocksdb.put(db, "a", "1", [])
    {:ok, itr} = :rocksdb.iterator(db, iterate_upper_bound: "")
    assert {:error, :invalid_iterator} = :rocksdb.iterator_move(itr, :first)
    assert {:error, :invalid_iterator} = :rocksdb.iterator_move(itr, :last)
    :ok = :rocksdb.iterator_close(itr)
    :ok = :rocksdb.close(db)
  end
end
