defmodule RocksdbLifetimeTest do
  # Handles live as the NIF's resources do: until closed or released, or
  # until no term references them, whichever process made them.
  use ExUnit.Case, async: true
  @moduletag :tmp_dir

  defp wait_until(fun, tries \\ 500) do
    cond do
      fun.() -> :ok
      tries == 0 -> flunk("condition never held")
      true -> Process.sleep(10) && wait_until(fun, tries - 1)
    end
  end

  defp open_elsewhere(path) do
    parent = self()

    spawn(fn ->
      {:ok, db} = :rocksdb.open(String.to_charlist(path), create_if_missing: true)
      send(parent, {:db, db})
    end)

    receive do: ({:db, db} -> db)
  end

  # The sidecar closes no handle for being idle and bounds them only
  # against a runaway caller: its command line says so.
  test "the sidecar never reaps idle handles", %{tmp_dir: dir} do
    {:ok, db} = :rocksdb.open(String.to_charlist(Path.join(dir, "db")), create_if_missing: true)
    {:ok, ctx} = Store.KV.Engine.Caller.lookup(elem(db, 1))
    {:os_pid, pid} = Port.info(ctx.port, :os_pid)
    args = "/proc/#{pid}/cmdline" |> File.read!() |> String.split(<<0>>)

    assert ["--idle-timeout", "0"] ==
             Enum.slice(args, Enum.find_index(args, &(&1 == "--idle-timeout")), 2)

    for flag <- ["--max-iterators", "--max-snapshots"] do
      i = Enum.find_index(args, &(&1 == flag))
      assert String.to_integer(Enum.at(args, i + 1)) >= 1_048_576
    end

    :ok = :rocksdb.close(db)
  end

  # A NIF call keeps its resource arguments alive until it returns. Here
  # the handle's last use is the argument of a slow call, and the caller
  # is collected again and again during it: the call must still succeed.
  test "a handle passed to a call lives until the call returns", %{tmp_dir: dir} do
    path = String.to_charlist(Path.join(dir, "db"))
    {:ok, db} = :rocksdb.open(path, create_if_missing: true)
    value = :binary.copy("v", 200)

    for chunk <- Enum.chunk_every(1..60_000, 1000),
        do: :ok = :rocksdb.write(db, for(i <- chunk, do: {:put, <<i::64>>, value}), [])

    me = self()
    collector = spawn_link(fn -> collect(me) end)
    result = :rocksdb.compact_range(db, :undefined, :undefined, [])
    send(collector, :stop)
    assert result == :ok
  end

  defp collect(pid) do
    receive do
      :stop -> :ok
    after
      0 ->
        :erlang.garbage_collect(pid)
        Process.sleep(1)
        collect(pid)
    end
  end

  describe "an on_exit callback" do
    setup %{tmp_dir: dir} do
      {:ok, db} = :rocksdb.open(String.to_charlist(Path.join(dir, "db")), create_if_missing: true)
      :ok = :rocksdb.put(db, "k", "v", [])

      on_exit(fn ->
        # Runs in another process once the test process has exited.
        {:ok, "v"} = :rocksdb.get(db, "k", [])
        :ok = :rocksdb.close(db)
      end)

      %{db: db}
    end

    test "still uses the database the test process opened", %{db: db} do
      assert {:ok, "v"} = :rocksdb.get(db, "k", [])
    end
  end

  test "a handle kept in :persistent_term outlives the process that opened it",
       %{tmp_dir: dir} do
    key = {__MODULE__, make_ref()}
    db = open_elsewhere(Path.join(dir, "db"))
    :persistent_term.put(key, db)
    Process.sleep(50)
    assert :ok = :rocksdb.put(:persistent_term.get(key), "k", "v", [])
    assert {:ok, "v"} = :rocksdb.get(:persistent_term.get(key), "k", [])
    :ok = :rocksdb.close(:persistent_term.get(key))
    :persistent_term.erase(key)
  end

  test "a database nothing references is closed and its LOCK freed", %{tmp_dir: dir} do
    path = Path.join(dir, "db")
    # The opener crashes without closing; no other process has the handle.
    {pid, ref} =
      spawn_monitor(fn ->
        {:ok, db} = :rocksdb.open(String.to_charlist(path), create_if_missing: true)
        :ok = :rocksdb.put(db, "k", "v", [])
        exit(:crash)
      end)

    assert_receive {:DOWN, ^ref, :process, ^pid, :crash}, 30_000
    # At once, as after a crashed EUnit test: no "lock hold by current process".
    assert {:ok, db} = :rocksdb.open(String.to_charlist(path), [])
    assert {:ok, "v"} = :rocksdb.get(db, "k", [])
    assert :ok = :rocksdb.close(db)
  end

  test "close/1 returns with the LOCK free", %{tmp_dir: dir} do
    path = String.to_charlist(Path.join(dir, "db"))

    for _ <- 1..5 do
      {:ok, db} = :rocksdb.open(path, create_if_missing: true)
      :ok = :rocksdb.close(db)
    end

    # Another OS process (the binary's repair command, which takes
    # RocksDB's LOCK) can have it at once.
    assert :ok = :rocksdb.repair(path, [])
  end

  test "an iterator keeps its database open; closed iterators and released snapshots are badarg",
       %{tmp_dir: dir} do
    db = open_elsewhere(Path.join(dir, "db"))
    :ok = :rocksdb.put(db, "a", "1", [])
    {:ok, itr} = :rocksdb.iterator(db, [])
    {:ok, snap} = :rocksdb.snapshot(db)
    assert {:ok, "a", "1"} = :rocksdb.iterator_move(itr, :first)
    :ok = :rocksdb.iterator_close(itr)
    assert_raise ArgumentError, fn -> :rocksdb.iterator_move(itr, :first) end
    assert_raise ArgumentError, fn -> :rocksdb.iterator_refresh(itr) end
    :ok = :rocksdb.release_snapshot(snap)
    assert_raise ArgumentError, fn -> :rocksdb.release_snapshot(snap) end
    :ok = :rocksdb.close(db)
  end

  test "snapshots, log iterators and transactions nobody references are closed in the sidecar",
       %{tmp_dir: dir} do
    {:ok, db, _} =
      :rocksdb.open_optimistic_transaction_db(
        String.to_charlist(Path.join(dir, "db")),
        [create_if_missing: true],
        [{~c"default", []}]
      )

    :ok = :rocksdb.put(db, "k", "v", [])
    engine = Store.KV.RocksDB.Handles.engine!(db)

    # The process ends holding them all: the sidecar's table of
    # transactions is full (1024) until their handles are collected.
    {pid, ref} =
      spawn_monitor(fn ->
        {:ok, _snap} = :rocksdb.snapshot(db)
        {:ok, _log} = :rocksdb.tlog_iterator(db, 0)
        for _ <- 1..1024, do: {:ok, _} = :rocksdb.transaction(db, [])
      end)

    assert_receive {:DOWN, ^ref, :process, ^pid, :normal}, 30_000
    wait_until(fn -> :rocksdb.get_property(db, "rocksdb.num-snapshots") == {:ok, "0"} end)

    wait_until(fn ->
      match?({:ok, %{sidecar: %{open_iterators: 0}}}, Store.KV.Engine.get_stats(engine))
    end)

    wait_until(fn -> match?({:ok, _}, :rocksdb.transaction(db, [])) end)
    :ok = :rocksdb.close(db)
  end

  test "a batch nobody references any more leaves nothing behind" do
    table = Store.KV.RocksDB.Registry.batches()
    before = :ets.info(table, :size)

    spawn(fn ->
      {:ok, b} = :rocksdb.batch()
      for i <- 1..100, do: :ok = :rocksdb.batch_put(b, "k#{i}", "v")
    end)

    wait_until(fn -> :ets.info(table, :size) <= before end)
  end
end
