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
end
