defmodule RocksdbOptionsTest do
  # erlang-rocksdb's open options reach RocksDB: read back from the
  # OPTIONS file it writes, as erlang-rocksdb's own tests read its LOG.
  use ExUnit.Case, async: true
  @moduletag :tmp_dir

  defp options_file(dir) do
    dir |> Path.join("OPTIONS-*") |> Path.wildcard() |> Enum.max() |> File.read!()
  end

  test "FIFO compaction, TTL and compression options are applied", %{tmp_dir: dir} do
    {:ok, db} =
      :rocksdb.open(String.to_charlist(dir),
        create_if_missing: true,
        compaction_style: :fifo,
        compaction_options_fifo: [allow_compaction: true, max_table_files_size: 20],
        ttl: 4,
        compression: :snappy,
        compression_opts: [window_bits: 8192, strategy: 3, level: 16, max_dict_bytes: 32768]
      )

    :ok = :rocksdb.close(db)
    text = options_file(dir)
    assert text =~ "compaction_style=kCompactionStyleFIFO"
    assert text =~ "max_table_files_size=20"
    assert text =~ "allow_compaction=true"
    assert text =~ ~r/\bttl=4\b/
    assert text =~ "window_bits=8192"
    assert text =~ "max_dict_bytes=32768"
    assert text =~ "bottommost_compression=kDisableCompressionOption", "as the NIF leaves it"
  end

  test "the last level's compression is set only when asked", %{tmp_dir: dir} do
    {:ok, db} =
      :rocksdb.open(String.to_charlist(dir),
        create_if_missing: true,
        compression: :none,
        bottommost_compression: :snappy,
        bottommost_compression_opts: [enabled: true, level: 16]
      )

    :ok = :rocksdb.close(db)
    text = options_file(dir)
    assert text =~ "bottommost_compression=kSnappyCompression"
    assert text =~ ~r/bottommost_compression_opts=\{[^}]*enabled=true/
  end

  # Every entry of the pass-through table reaches RocksDB's OPTIONS file.
  test "every option of the pass-through table is applied", %{tmp_dir: dir} do
    sample = fn
      :bool, name ->
        name not in ~w(allow_mmap_writes use_direct_reads use_direct_io_for_flush_and_compaction
                                      unordered_write enable_pipelined_write manual_wal_flush disable_auto_compactions
                                      inplace_update_support)

      :uint, _ ->
        7

      :path, name ->
        Path.join(dir, name)

      :compression, _ ->
        :lz4

      :fraction, _ ->
        0.5

      :prepopulate, _ ->
        :flush_only

      :compaction_pri, _ ->
        :oldest_smallest_seq_first
    end

    # How RocksDB writes each kind back.
    text_of = fn
      :path, value -> Path.expand(value)
      :compression, :lz4 -> "kLZ4Compression"
      :fraction, 0.5 -> "0.500000"
      :prepopulate, :flush_only -> "kFlushOnly"
      :compaction_pri, :oldest_smallest_seq_first -> "kOldestSmallestSeqFirst"
      _, value -> to_string(value)
    end

    table = Store.KV.RocksDB.Options.passthrough()
    # RocksDB refuses some values (ranges and pairs of options): one each.
    picks = %{
      table_cache_numshardbits: 6,
      num_levels: 7,
      max_bytes_for_level_multiplier: 10,
      level0_stop_writes_trigger: 36,
      level0_slowdown_writes_trigger: 20
    }

    opts =
      for {nif, {name, kind}} <- table,
          do: {nif, Map.get(picks, nif, sample.(kind, name))}

    path = Path.join(dir, "db")
    {:ok, db} = :rocksdb.open(String.to_charlist(path), [create_if_missing: true] ++ opts)
    :ok = :rocksdb.close(db)
    text = options_file(path)

    for {nif, value} <- opts do
      {name, kind} = table[nif]
      assert text =~ "#{name}=#{text_of.(kind, value)}", "#{nif} (#{name}) did not reach RocksDB"
    end
  end

  test "an option set to false reaches the sidecar", %{tmp_dir: dir} do
    {:ok, db} =
      :rocksdb.open(String.to_charlist(dir),
        create_if_missing: true,
        allow_concurrent_memtable_write: false,
        enable_write_thread_adaptive_yield: false
      )

    :ok = :rocksdb.close(db)
    text = options_file(dir)
    assert text =~ "allow_concurrent_memtable_write=false"
    assert text =~ "enable_write_thread_adaptive_yield=false"
  end

  test "a prefix extractor and a TTL database", %{tmp_dir: dir} do
    {:ok, db} =
      :rocksdb.open(String.to_charlist(Path.join(dir, "prefix")),
        create_if_missing: true,
        prefix_extractor: {:fixed_prefix_transform, 2}
      )

    for k <- ["aa1", "aa2", "ab1"], do: :ok = :rocksdb.put(db, k, "v", [])
    {:ok, itr} = :rocksdb.iterator(db, prefix_same_as_start: true)
    assert {:ok, "aa1", _} = :rocksdb.iterator_move(itr, {:seek, "aa"})
    assert {:ok, "aa2", _} = :rocksdb.iterator_move(itr, :next)
    assert {:error, :invalid_iterator} = :rocksdb.iterator_move(itr, :next), "not past the prefix"
    :ok = :rocksdb.iterator_close(itr)
    :ok = :rocksdb.close(db)

    {:ok, ttl} =
      :rocksdb.open_with_ttl(
        String.to_charlist(Path.join(dir, "ttl")),
        [create_if_missing: true],
        1,
        false
      )

    :ok = :rocksdb.put(ttl, "a", "a1", [])
    assert {:ok, "a1"} = :rocksdb.get(ttl, "a", [])
    Process.sleep(2100)
    :ok = :rocksdb.compact_range(ttl, :undefined, :undefined, [])
    assert :not_found = :rocksdb.get(ttl, "a", [])
    :ok = :rocksdb.close(ttl)

    assert {:error, {:db_open, _}} =
             :rocksdb.open_with_ttl(String.to_charlist(Path.join(dir, "ttl")), [], 1, true)
  end

  test "in-memory databases write nothing to the disk", %{tmp_dir: dir} do
    {:ok, env} = :rocksdb.new_env(:memenv)
    :ok = :rocksdb.set_env_background_threads(env, 2)
    path = Path.join(dir, "mem")
    {:ok, db} = :rocksdb.open(String.to_charlist(path), env: env)
    {:ok, db2} = :rocksdb.open(String.to_charlist(path <> "2"), env: :memenv)
    :ok = :rocksdb.put(db, "a", "1", [])
    :ok = :rocksdb.put(db2, "a", "2", [])
    :ok = :rocksdb.flush(db, [])
    assert {:ok, "1"} = :rocksdb.get(db, "a", [])
    assert {:ok, "2"} = :rocksdb.get(db2, "a", [])
    :ok = :rocksdb.close(db)
    :ok = :rocksdb.close(db2)
    refute File.exists?(path)
    :ok = :rocksdb.destroy_env(env)
    assert_raise ArgumentError, fn -> :rocksdb.destroy_env(env) end
  end

  test "managers shape the databases opened with them and report their sums", %{tmp_dir: dir} do
    {:ok, wbm} = :rocksdb.new_write_buffer_manager(8 * 1024 * 1024)
    {:ok, env} = :rocksdb.default_env()
    {:ok, sst} = :rocksdb.new_sst_file_manager(env, max_trash_db_ratio: 0.5)
    opts = [create_if_missing: true, write_buffer_manager: wbm, sst_file_manager: sst]
    {:ok, a} = :rocksdb.open(String.to_charlist(Path.join(dir, "a")), opts)
    {:ok, b} = :rocksdb.open(String.to_charlist(Path.join(dir, "b")), opts)
    assert options_file(Path.join(dir, "a")) =~ "db_write_buffer_size=8388608"
    assert 0 == :rocksdb.sst_file_manager_info(sst, :total_size)

    for db <- [a, b], i <- 1..100, do: :ok = :rocksdb.put(db, "k#{i}", :binary.copy("v", 100), [])
    assert :rocksdb.write_buffer_manager_info(wbm, :memory_usage) > 0
    :ok = :rocksdb.flush(a, [])
    assert :rocksdb.sst_file_manager_info(sst, :total_size) > 0
    assert 0.5 == :rocksdb.sst_file_manager_info(sst, :max_trash_db_ratio)
    :ok = :rocksdb.sst_file_manager_flag(sst, :max_allowed_space_usage, 1)
    assert :rocksdb.sst_file_manager_info(sst, :is_max_allowed_space_reached)

    assert_raise ArgumentError, fn ->
      :rocksdb.sst_file_manager_flag(sst, :max_trash_db_ratio, -1)
    end

    :ok = :rocksdb.close(a)
    :ok = :rocksdb.close(b)
    :ok = :rocksdb.release_write_buffer_manager(wbm)
    :ok = :rocksdb.release_sst_file_manager(sst)
  end

  # RocksDB starts a pool's threads when it is resized: the sidecar's
  # thread count shows each call reached the database's env.
  test "background threads: of a database, and of an env before and after open", %{
    tmp_dir: dir
  } do
    {:ok, env} = :rocksdb.new_env()
    :ok = :rocksdb.set_env_background_threads(env, 20, :priority_high)

    {:ok, db} =
      :rocksdb.open(String.to_charlist(Path.join(dir, "t")), create_if_missing: true, env: env)

    opened = sidecar_threads(db)
    assert opened >= 20

    # The low pool had what max_background_jobs gave it (a few threads).
    :ok = :rocksdb.set_env_background_threads(env, 30)
    low30 = sidecar_threads(db)
    assert low30 >= opened + 26
    :ok = :rocksdb.set_db_background_threads(db, 40, :priority_high)
    high40 = sidecar_threads(db)
    assert high40 >= low30 + 20
    :ok = :rocksdb.set_db_background_threads(db, 50)
    assert sidecar_threads(db) >= high40 + 20

    for bad <- [{db, -1, :priority_low}, {db, 2, :low}, {db, 2, :high}, {db, 1.5, :priority_low}],
        do:
          assert_raise(ArgumentError, fn ->
            apply(:rocksdb, :set_db_background_threads, Tuple.to_list(bad))
          end)

    assert_raise ArgumentError, fn -> :rocksdb.set_env_background_threads(env, 2, :low) end
    assert_raise ArgumentError, fn -> :rocksdb.set_db_background_threads(:nodb, 2) end
    :ok = :rocksdb.close(db)
  end

  test "a snapshot's sequence number", %{tmp_dir: dir} do
    {:ok, db} = :rocksdb.open(String.to_charlist(Path.join(dir, "s")), create_if_missing: true)
    :ok = :rocksdb.put(db, "a", "1", [])
    :ok = :rocksdb.put(db, "b", "2", [])
    {:ok, snap} = :rocksdb.snapshot(db)
    :ok = :rocksdb.put(db, "c", "3", [])
    assert :rocksdb.get_snapshot_sequence(snap) == 2
    assert :rocksdb.get_latest_sequence_number(db) == 3
    :ok = :rocksdb.release_snapshot(snap)
    assert_raise ArgumentError, fn -> :rocksdb.get_snapshot_sequence(snap) end
    assert_raise ArgumentError, fn -> :rocksdb.get_snapshot_sequence(db) end
    :ok = :rocksdb.close(db)
  end

  test "blob files hold large values", %{tmp_dir: dir} do
    path = Path.join(dir, "blobs")

    {:ok, db} =
      :rocksdb.open(String.to_charlist(path),
        create_if_missing: true,
        enable_blob_files: true,
        min_blob_size: 1024,
        blob_compression_type: :lz4
      )

    big = :binary.copy("v", 4096)
    :ok = :rocksdb.put(db, "big", big, [])
    :ok = :rocksdb.put(db, "small", "s", [])
    :ok = :rocksdb.flush(db, [])
    assert [_ | _] = Path.wildcard(Path.join(path, "*.blob"))
    assert {:ok, ^big} = :rocksdb.get(db, "big", [])
    assert {:ok, "s"} = :rocksdb.get(db, "small", [])
    :ok = :rocksdb.close(db)
  end

  test "error_if_exists refuses an existing database, as the NIF's", %{tmp_dir: dir} do
    path = String.to_charlist(Path.join(dir, "e"))
    {:ok, db} = :rocksdb.open(path, create_if_missing: true, error_if_exists: true)
    :ok = :rocksdb.close(db)

    assert {:error, {:db_open, msg}} =
             :rocksdb.open(path, create_if_missing: true, error_if_exists: true)

    assert to_string(msg) =~ "exists (error_if_exists is true)"
    {:ok, db} = :rocksdb.open(path, error_if_exists: false)
    :ok = :rocksdb.close(db)
  end

  defp sidecar_threads(db) do
    {:ok, ctx} = Store.KV.Engine.Caller.lookup(elem(db, 1))
    {:os_pid, pid} = Port.info(ctx.port, :os_pid)
    length(File.ls!("/proc/#{pid}/task"))
  end
end
