defmodule Store.KV.Engine.ErrorTest do
  use Store.KV.EngineCase, async: true
  doctest Store.KV.Engine.Error
  @moduletag :tmp_dir

  alias Store.KV.Engine.Error

  test "every RocksDB status class, and the reasons the engine gives" do
    for {msg, kind} <- [
          {"IO error: While lock file", :io_error},
          {"Corruption: checksum mismatch", :corruption},
          {"Invalid argument: end key comes before start key", :invalid_argument},
          {"Not implemented: x", :not_supported},
          {"Resource busy: x", :busy},
          {"Operation timed out: x", :timed_out},
          {"Result incomplete: x", :incomplete},
          {"Operation aborted: x", :aborted},
          {"Operation failed. Try again.: x", :try_again},
          {"NotFound: Backup not found", :not_found},
          {"something else", :other}
        ],
        do: assert(Error.kind({:rocksdb, msg}) == kind, msg)

    assert Error.kind({:unknown_column_family, "x"}) == :unknown_column_family
    assert Error.kind(:timeout) == :timeout
  end

  test "a real failure classifies", %{tmp_dir: dir} do
    e = start_engine(dir)
    :ok = Engine.write_batch(e, for(i <- 1..100, do: {:put, "k#{i}", "v"}))
    {:ok, _} = Engine.backup(e, "bk", flush: true)
    assert {:error, reason} = Engine.verify_backup(Path.join([dir, "checkpoints", "bk"]), 42)
    assert Error.kind(reason) == :not_found
  end
end
