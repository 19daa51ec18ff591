defmodule Store.KV.LoadTest do
  # Not async: it measures the sidecar's peak memory and wants the machine.
  use Store.KV.EngineCase, async: false
  @moduletag :tmp_dir

  @cache 8 * 1024 * 1024
  @write_buffer 4 * 1024 * 1024
  @buffers 4

  defp peak_rss_kib(os_pid) do
    "/proc/#{os_pid}/status"
    |> File.read!()
    |> then(&Regex.run(~r/VmHWM:\s+(\d+) kB/, &1))
    |> Enum.at(1)
    |> String.to_integer()
  end

  # The test bounds itself with LOAD_SECONDS; ExUnit's 60 s default would
  # cut a long run short.
  @tag :slow
  @tag timeout: :infinity
  test "64 callers of mixed get/put/scan over data larger than the cache: no errors, bounded memory",
       %{tmp_dir: dir} do
    secs = String.to_integer(System.get_env("LOAD_SECONDS", "10"))

    e =
      start_engine(dir,
        block_cache_size: @cache,
        write_buffer_size: @write_buffer,
        max_write_buffer_number: @buffers
      )

    value = :binary.copy("v", 400)
    keys = 60_000

    # Random values: lz4 must not shrink the data set below the cache.
    for chunk <- Enum.chunk_every(1..keys, 1000) do
      :ok =
        Engine.write_batch(
          e,
          for(i <- chunk, do: {:put, "k#{i}", :crypto.strong_rand_bytes(400)})
        )
    end

    :ok = Engine.flush(e)
    {:ok, %{properties: %{"rocksdb.total-sst-files-size" => sst}}} = Engine.get_stats(e)
    assert sst > 2 * @cache, "the data set (#{sst} B on disk) is larger than the block cache"

    deadline = System.monotonic_time(:millisecond) + secs * 1000

    counts =
      1..64
      |> Task.async_stream(
        fn c ->
          :rand.seed(:exsss, {c, c, c})
          loop(e, keys, value, deadline, %{get: 0, put: 0, scan: 0})
        end,
        max_concurrency: 64,
        timeout: (secs + 30) * 1000
      )
      |> Enum.map(fn {:ok, counts} -> counts end)

    total = counts |> Enum.flat_map(&Map.values/1) |> Enum.sum()
    assert total > 0

    {:ok, os_pid} = Engine.os_pid(e)
    peak_mib = div(peak_rss_kib(os_pid), 1024)
    # Block cache + every memtable + a margin for the Go runtime, RocksDB's
    # table readers and iterators, and 64 callers' frames in flight.
    bound = div(@cache + @write_buffer * @buffers, 1024 * 1024) + 100

    IO.puts(
      "\nload: #{div(total, secs)} ops/s over #{secs} s from 64 callers; sidecar peak RSS #{peak_mib} MiB (bound #{bound} MiB)"
    )

    assert peak_mib < bound
  end

  defp loop(e, keys, value, deadline, counts) do
    if System.monotonic_time(:millisecond) > deadline do
      counts
    else
      key = "k#{:rand.uniform(keys)}"

      counts =
        case :rand.uniform(10) do
          n when n <= 6 ->
            {:ok, _} = Engine.get(e, key)
            Map.update!(counts, :get, &(&1 + 1))

          n when n <= 9 ->
            :ok = Engine.put(e, key, value)
            Map.update!(counts, :put, &(&1 + 1))

          10 ->
            {:ok, [{rows, _} | _]} = Engine.scan_range(e, key, "", limit: 50)
            true = rows != []
            Map.update!(counts, :scan, &(&1 + 1))
        end

      loop(e, keys, value, deadline, counts)
    end
  end

  test "a slow consumer of scan_stream makes the sidecar do one batch ahead, no more", %{
    tmp_dir: dir
  } do
    e = start_engine(dir)
    :ok = Engine.write_batch(e, for(i <- 1..5000, do: {:put, "k#{i}", "v"}))
    before = sidecar_stats(e).replies

    e
    |> Engine.scan_stream("", "", batch_size: 10)
    |> Stream.each(fn _ -> Process.sleep(1) end)
    |> Enum.take(35)

    # iter_open, 4 batches consumed (35 rows), 1 prefetched, iter_close, and
    # the stats reply itself.
    assert sidecar_stats(e).replies - before <= 8
  end

  test "the sidecar opens no network socket: its one socket is the engine's Unix socket",
       %{tmp_dir: dir} do
    e = start_engine(dir, reply_socket: true)
    {:ok, os_pid} = Engine.os_pid(e)
    :ok = Engine.put(e, "k", "v")

    links = fd_links(os_pid)

    assert links != []
    sockets = for "socket:[" <> rest <- links, do: String.trim_trailing(rest, "]")
    assert length(sockets) == 1, inspect(links)

    # /proc/net/unix lists every Unix socket by inode; a TCP or UDP socket
    # would not be there.
    unix_inodes =
      "/proc/#{os_pid}/net/unix"
      |> File.read!()
      |> String.split("\n", trim: true)
      |> Enum.drop(1)
      |> Enum.map(&(&1 |> String.split() |> Enum.at(6)))

    assert Enum.all?(sockets, &(&1 in unix_inodes)), inspect({sockets, links})

    # Without the reply socket (the default) it holds none at all.
    e2 = start_engine(Path.join(dir, "plain"))
    {:ok, os_pid2} = Engine.os_pid(e2)

    links2 = fd_links(os_pid2)

    refute Enum.any?(links2, &String.starts_with?(&1, "socket:")), inspect(links2)
  end
end
