# Store.KV.RocksDB.get/3 against Store.KV.Engine.get/2 on one engine, in
# alternated rounds. Run from elixir/:
#   MIX_ENV=prod mix run --no-start bench/rocksdb_get_ab.exs
alias Store.KV.{Engine, RocksDB}
{:ok, _} = Store.KV.RocksDB.Registry.start_link([])
dir = Path.expand("../var/bench-get-ab", File.cwd!())
File.rm_rf!(dir)
{:ok, _} = Engine.start_link(path: dir, name: :e)

for c <- Enum.chunk_every(0..199_999, 1000),
    do:
      :ok =
        Engine.write_batch(
          :e,
          for(
            i <- c,
            do: {:put, "user:" <> String.pad_leading("#{i}", 8, "0"), :binary.copy("x", 100)}
          )
        )

:ok = Engine.flush(:e)
:ok = Engine.compact_range(:e)
db = Engine.get_db_ref(:e)
keys = List.to_tuple(for i <- 0..199_999, do: "user:" <> String.pad_leading("#{i}", 8, "0"))

run = fn f, n ->
  {us, _} =
    :timer.tc(fn -> for _ <- 1..n, do: {:ok, _} = f.(elem(keys, :rand.uniform(200_000) - 1)) end)

  us / n
end

eng = fn k -> Engine.get(:e, k) end
rdb = fn k -> RocksDB.get(db, k, []) end
run.(eng, 20_000)
run.(rdb, 20_000)

{a, b} =
  Enum.reduce(1..10, {[], []}, fn _, {a, b} ->
    {[run.(eng, 20_000) | a], [run.(rdb, 20_000) | b]}
  end)

med = fn l -> Enum.at(Enum.sort(l), div(length(l), 2)) end

IO.puts(
  "1 caller, 10 alternated rounds of 20k random gets: Engine.get median #{Float.round(med.(a), 2)} µs, RocksDB.get median #{Float.round(med.(b), 2)} µs, ratio #{Float.round(med.(b) / med.(a), 3)}"
)

par = fn f ->
  {us, _} =
    :timer.tc(fn ->
      1..16
      |> Enum.map(fn _ ->
        Task.async(fn ->
          for _ <- 1..10_000, do: {:ok, _} = f.(elem(keys, :rand.uniform(200_000) - 1))
        end)
      end)
      |> Enum.each(&Task.await(&1, 60_000))
    end)

  160_000 / us * 1_000_000
end

{pa, pb} = Enum.reduce(1..6, {[], []}, fn _, {a, b} -> {[par.(eng) | a], [par.(rdb) | b]} end)

IO.puts(
  "16 callers, 6 alternated rounds: Engine.get median #{round(med.(pa))}/s, RocksDB.get median #{round(med.(pb))}/s, ratio #{Float.round(med.(pb) / med.(pa), 3)}"
)

GenServer.stop(:e)
File.rm_rf!(dir)
