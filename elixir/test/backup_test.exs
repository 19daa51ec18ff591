defmodule Store.KV.BackupTest do
  use Store.KV.EngineCase, async: true
  @moduletag :tmp_dir

  alias Store.KV.RocksDB, as: R

  @writers 16

  # Writer i writes keys w<i>:<n> (every 5th n a batch of three keys
  # b<i>:<n>:a|b|c) and records in `acked` the last n acknowledged.
  defp start_writers(e, acked, stop) do
    for i <- 1..@writers do
      Task.async(fn -> write_loop(e, i, 1, acked, stop) end)
    end
  end

  defp write_loop(e, i, n, acked, stop) do
    if :atomics.get(stop, 1) == 0 do
      v = Integer.to_string(n)

      result =
        if rem(n, 5) == 0,
          do: Engine.write_batch(e, for(s <- ~w(a b c), do: {:put, "b#{i}:#{n}:#{s}", v})),
          else: Engine.put(e, "w#{i}:#{n}", v)

      case result do
        :ok ->
          :atomics.put(acked, i, n)
          write_loop(e, i, n + 1, acked, stop)

        {:error, _} ->
          :stopped
      end
    else
      :stopped
    end
  end

  defp snapshot_acked(acked), do: for(i <- 1..@writers, do: :atomics.get(acked, i))

  # Every write acknowledged before `pre` is there with its value, none
  # sent after `post` is, and every batch is whole or absent.
  defp check_restored(r, pre, post) do
    for {{p, q}, i} <- Enum.with_index(Enum.zip(pre, post), 1) do
      for n <- 1..max(q + 10, 1) do
        v = Integer.to_string(n)

        found =
          if rem(n, 5) == 0 do
            {:ok, vals} = Engine.multi_get(r, for(s <- ~w(a b c), do: "b#{i}:#{n}:#{s}"))

            assert vals in [[v, v, v], [:not_found, :not_found, :not_found]],
                   "batch #{i}:#{n} torn: #{inspect(vals)}"

            hd(vals) == v
          else
            case Engine.get(r, "w#{i}:#{n}") do
              {:ok, ^v} -> true
              {:error, :not_found} -> false
            end
          end

        if n <= p,
          do: assert(found, "writer #{i}: #{n} acknowledged before the backup is missing")

        # Write q + 1 may have been in flight when `post` was read: applied
        # before the backup ended, acknowledged after. Each writer waits
        # for one write's answer before the next, so every later one was
        # sent after the backup ended.
        if n > q + 1,
          do: refute(found, "writer #{i}: #{n} sent after the backup ended is present")
      end
    end
  end

  defp drill(dir, take, restore_to) do
    e = start_engine(Path.join(dir, "live"))
    acked = :atomics.new(@writers, signed: false)
    stop = :atomics.new(1, [])
    tasks = start_writers(e, acked, stop)
    Process.sleep(300)
    pre = snapshot_acked(acked)
    take.(e)
    post = snapshot_acked(acked)
    Process.sleep(200)
    {:ok, os_pid} = Engine.os_pid(e)
    System.cmd("kill", ["-9", Integer.to_string(os_pid)])
    :atomics.put(stop, 1, 1)
    Enum.each(tasks, &Task.await(&1, 30_000))
    assert Enum.sum(post) > Enum.sum(pre), "writes went on during the backup"

    target = Path.join(dir, "restored")
    :ok = restore_to.(target)
    r = start_engine(target)
    check_restored(r, pre, post)
  end

  @tag :slow
  test "restore drill: a backup taken under 16 writers, then kill -9", %{tmp_dir: dir} do
    bk = Path.join([dir, "live", "checkpoints", "bk"])

    drill(
      dir,
      fn e -> assert {:ok, %{id: 1}} = Engine.backup(e, "bk") end,
      fn target -> Engine.restore_backup(bk, :latest, target) end
    )
  end

  @tag :slow
  test "restore drill: a checkpoint taken under 16 writers, then kill -9", %{tmp_dir: dir} do
    cp = Path.join([dir, "live", "checkpoints", "cp"])

    drill(
      dir,
      fn e -> :ok = Engine.checkpoint(e, "cp") end,
      fn target -> File.rename(cp, target) end
    )
  end

  defp ssts(dir), do: dir |> Path.join("**/*.sst") |> Path.wildcard() |> length()

  test "incremental backups, purge, verify, delete, restore", %{tmp_dir: dir} do
    e = start_engine(dir)
    bk = Path.join([dir, "checkpoints", "bk"])
    :ok = Engine.write_batch(e, for(i <- 1..5000, do: {:put, "k#{i}", :binary.copy("v", 200)}))

    assert {:ok, %{id: 1, files: files, size: size}} =
             Engine.backup(e, "bk", flush: true, progress_every_bytes: 65_536)

    assert files > 0 and size > 0
    first = ssts(bk)
    :ok = Engine.put(e, "k-new", "1")

    assert {:ok, %{id: 2}} =
             Engine.backup(e, "bk", flush: true, rate_limit_bytes_per_sec: 67_108_864)

    assert ssts(bk) == first + 1, "the second backup adds only the new SST file"
    :ok = Engine.put(e, "k-newer", "2")
    assert {:ok, %{id: 3}} = Engine.backup(e, bk)
    assert {:ok, [%{id: 1}, %{id: 2}, %{id: 3}]} = Engine.list_backups(bk)
    assert :ok = Engine.verify_backup(bk, 2)
    assert :ok = Engine.purge_old_backups(bk, keep: 2)
    assert {:ok, [%{id: 2}, %{id: 3}]} = Engine.list_backups(bk)
    assert :ok = Engine.delete_backup(bk, 3)
    assert {:ok, [%{id: 2}]} = Engine.list_backups(bk)

    assert {:error, {:badarg, msg}} = Engine.restore_backup(bk, :latest, dir)
    assert msg =~ "not empty", "never over a running engine"
    target = Path.join(dir, "restored")
    assert :ok = Engine.restore_backup(bk, 2, target)
    r = start_engine(target)
    assert {:ok, "1"} = Engine.get(r, "k-new")
    assert {:error, :not_found} = Engine.get(r, "k-newer")

    assert {:error, {:no_backups, _}} = Engine.list_backups(Path.join(dir, "none"))

    assert {:error, {:no_backups, _}} =
             Engine.restore_backup(Path.join(dir, "none"), :latest, Path.join(dir, "x"))

    File.mkdir_p!(Path.join(dir, "empty"))

    assert {:error, _} =
             Engine.restore_backup(Path.join(dir, "empty"), :latest, Path.join(dir, "y"))

    assert {:error, {:badarg, _}} = Engine.backup(e, "/elsewhere/bk")
    refute File.exists?("/elsewhere")
  end

  test "verify finds a flipped byte", %{tmp_dir: dir} do
    e = start_engine(dir)
    :ok = Engine.write_batch(e, for(i <- 1..2000, do: {:put, "k#{i}", "v"}))
    {:ok, _} = Engine.backup(e, "bk", flush: true)
    bk = Path.join([dir, "checkpoints", "bk"])
    [sst | _] = Path.wildcard(Path.join(bk, "**/*.sst"))
    bytes = File.read!(sst)
    at = div(byte_size(bytes), 2)
    <<pre::binary-size(at), b, rest::binary>> = bytes
    File.write!(sst, <<pre::binary, Bitwise.bxor(b, 0xFF), rest::binary>>)
    assert {:error, {:rocksdb, msg}} = Engine.verify_backup(bk, 1)
    assert msg =~ "Corruption"
  end

  test "a backup reports on the log: progress lines, and a line when done", %{tmp_dir: dir} do
    level = Logger.level()
    Logger.configure(level: :info)
    on_exit(fn -> Logger.configure(level: level) end)
    e = start_engine(dir)
    :ok = Engine.write_batch(e, for(i <- 1..3000, do: {:put, "k#{i}", :binary.copy("v", 500)}))

    log =
      ExUnit.CaptureLog.capture_log([level: :info], fn ->
        {:ok, _} = Engine.backup(e, "bk", flush: true, progress_every_bytes: 100_000)
        Process.sleep(100)
      end)

    assert log =~ "backup 1 to"
  end

  test "checkpoint roots: widened on purpose", %{tmp_dir: dir} do
    other = Path.join(dir, "elsewhere")

    e =
      start_engine(Path.join(dir, "db"),
        checkpoint_roots: [Path.join(dir, "db/checkpoints"), other]
      )

    :ok = Engine.put(e, "k", "v")
    assert :ok = Engine.checkpoint(e, Path.join(other, "cp"))
    assert {:error, {:badarg, msg}} = Engine.checkpoint(e, Path.join(dir, "nope"))
    assert msg =~ other, "the message names the roots"
    refute File.exists?(Path.join(dir, "nope"))
    cp = start_engine(Path.join(other, "cp"))
    assert {:ok, "v"} = Engine.get(cp, "k")
  end

  test "erlang-rocksdb's backup functions", %{tmp_dir: dir} do
    {:ok, db} = R.open(Path.join(dir, "db"), create_if_missing: true)
    :ok = R.put(db, "k", "v", [])
    {:ok, be} = R.open_backup_engine(~c"#{dir}/bk")
    :ok = R.create_new_backup(be, db)
    :ok = R.put(db, "k2", "v2", [])
    :ok = R.create_new_backup(be, db)
    assert {:ok, [%{backup_id: 2, number_files: _}, %{backup_id: 1}]} = R.get_backup_info(be)
    :ok = R.verify_backup(be, 1)
    :ok = R.purge_old_backup(be, 1)
    assert {:ok, [%{backup_id: 2}]} = R.get_backup_info(be)
    :ok = R.restore_db_from_latest_backup(be, ~c"#{dir}/restored")

    assert File.exists?(Path.join([dir, "restored", "CURRENT"])),
           "RocksDB's files in the path, as the NIF's"

    :ok = R.checkpoint(db, ~c"#{dir}/cp")
    assert File.exists?(Path.join([dir, "cp", "CURRENT"]))
    :ok = R.close_backup_engine(be)
    :ok = R.close(db)
    {:ok, r} = R.open(Path.join(dir, "restored"), [])
    assert {:ok, "v2"} = R.get(r, "k2", [])
    :ok = R.close(r)
  end
end
