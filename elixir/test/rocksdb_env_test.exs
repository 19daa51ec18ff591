defmodule Store.KV.RocksDBEnvTest do
  # What erlang-rocksdb has no option for reaches a :rocksdb database
  # through the SPIRE_ROCKSDB_* variables of the BEAM's environment, which
  # every sidecar inherits. Not async: the environment is the VM's.
  use Store.KV.EngineCase, async: false
  @moduletag :tmp_dir

  alias Store.KV.RocksDB, as: R

  test "SPIRE_ROCKSDB_ROW_CACHE_SIZE gives a database opened with open/2 a row cache",
       %{tmp_dir: dir} do
    System.put_env("SPIRE_ROCKSDB_ROW_CACHE_SIZE", "8388608")
    on_exit(fn -> System.delete_env("SPIRE_ROCKSDB_ROW_CACHE_SIZE") end)

    {:ok, {_, name, _} = db} = R.open(String.to_charlist(dir), create_if_missing: true)
    on_exit(fn -> R.close(db) end)
    :ok = R.put(db, "k", "v", [])
    :ok = R.flush(db, [])
    for _ <- 1..3, do: {:ok, "v"} = R.get(db, "k", [])

    {:ok, %{tickers: tickers}} = Engine.get_stats(name)
    assert tickers["rocksdb.row.cache.hit"] >= 2
  end
end
