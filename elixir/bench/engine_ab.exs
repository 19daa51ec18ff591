# Two engines with different options in one BEAM, 16 callers that build
# their keys against each in alternated rounds: gets/s
# and the sidecar's CPU per get, so that a change is judged in one run and
# not across runs of a VM that drifts by up to 40%. Run from elixir/:
#
#   MIX_ENV=prod mix run --no-start bench/engine_ab.exs \
#     [--a "busy_spin: 50"] [--b "busy_spin: 0"] [--a-env VAR=value]
#     [--b-env VAR=value] [--rounds 8] [--secs 3] [--callers 16]
#
# --a and --b are Store.KV.Engine options (Elixir keyword syntax) for that
# side's engine; `binary: "/path/to/spire-port"` compares two builds.
# --a-env and --b-env put one variable in that side's sidecar environment
# (GOMAXPROCS=1, say).
Code.require_file("proc_cpu.exs", __DIR__)
alias Store.KV.Engine

{opts, _, _} =
  OptionParser.parse(System.argv(),
    strict: [
      a: :string,
      b: :string,
      a_env: :string,
      b_env: :string,
      rounds: :integer,
      secs: :integer,
      callers: :integer
    ]
  )

parse = fn s -> if s in [nil, ""], do: [], else: elem(Code.eval_string("[" <> s <> "]"), 0) end
rounds = opts[:rounds] || 8
secs = opts[:secs] || 3
callers = opts[:callers] || 16
n_keys = 200_000
key = fn i -> "user:" <> String.pad_leading(Integer.to_string(i), 8, "0") end
root = Path.expand("../var/bench-engine-ab", File.cwd!())
File.rm_rf!(root)

# --a-env "VAR=value" sets a variable of the sidecar's environment only.
start = fn name, extra, env ->
  dir = Path.join(root, Atom.to_string(name))
  [var, value] = if env, do: String.split(env, "=", parts: 2), else: [nil, nil]
  if var, do: System.put_env(var, value)
  {:ok, _} = Engine.start_link([path: dir, name: name] ++ extra)
  if var, do: System.delete_env(var)

  for c <- Enum.chunk_every(0..(n_keys - 1), 1000) do
    :ok = Engine.write_batch(name, for(i <- c, do: {:put, key.(i), :binary.copy("x", 100)}))
  end

  :ok = Engine.flush(name)
  :ok = Engine.compact_range(name)
  for i <- 0..(n_keys - 1), do: {:ok, _} = Engine.get(name, key.(i))
  {:ok, os_pid} = Engine.os_pid(name)
  os_pid
end

cpu = &Bench.ProcCPU.micros/1

round = fn name, os_pid ->
  deadline = System.monotonic_time(:millisecond) + secs * 1000
  {s0, b0} = {cpu.(os_pid), cpu.("self")}
  t0 = System.monotonic_time(:microsecond)

  n =
    1..callers
    |> Enum.map(fn _ ->
      Task.async(fn ->
        Stream.repeatedly(fn -> :rand.uniform(n_keys) - 1 end)
        |> Enum.reduce_while(0, fn i, acc ->
          case Engine.get(name, key.(i)) do
            {:ok, _} -> :ok
          end

          if rem(acc, 64) == 0 and System.monotonic_time(:millisecond) > deadline,
            do: {:halt, acc + 1},
            else: {:cont, acc + 1}
        end)
      end)
    end)
    |> Enum.map(&Task.await(&1, 60_000))
    |> Enum.sum()

  us = System.monotonic_time(:microsecond) - t0
  {n / us * 1_000_000, (cpu.(os_pid) - s0) / n, (cpu.("self") - b0) / n}
end

pa = start.(:a, parse.(opts[:a]), opts[:a_env])
pb = start.(:b, parse.(opts[:b]), opts[:b_env])
IO.puts("a: #{opts[:a]} #{opts[:a_env]}\nb: #{opts[:b]} #{opts[:b_env]}")

IO.puts(
  "round  a gets/s  a sidecar µs/get  a BEAM µs/get | b gets/s  b sidecar µs/get  b BEAM µs/get"
)

fmt = fn x -> :erlang.float_to_binary(x / 1, decimals: 1) end

results =
  for r <- 1..rounds do
    # Which side goes first alternates too: the VM drifts within a round.
    {ra, rb} =
      if rem(r, 2) == 1 do
        ra = round.(:a, pa)
        {ra, round.(:b, pb)}
      else
        rb = round.(:b, pb)
        {round.(:a, pa), rb}
      end

    {ga, sa, ba} = ra
    {gb, sb, bb} = rb

    IO.puts(
      "#{r}      #{fmt.(ga / 1000)}k  #{fmt.(sa)}  #{fmt.(ba)} | #{fmt.(gb / 1000)}k  #{fmt.(sb)}  #{fmt.(bb)}"
    )

    {ra, rb}
  end

med = fn l -> Enum.at(Enum.sort(l), div(length(l), 2)) end
col = fn side, i -> med.(for r <- results, do: elem(elem(r, side), i)) end

IO.puts(
  "median a: #{fmt.(col.(0, 0) / 1000)}k gets/s, sidecar #{fmt.(col.(0, 1))} µs/get, BEAM #{fmt.(col.(0, 2))}; " <>
    "b: #{fmt.(col.(1, 0) / 1000)}k gets/s, sidecar #{fmt.(col.(1, 1))} µs/get, BEAM #{fmt.(col.(1, 2))}"
)

GenServer.stop(:a)
GenServer.stop(:b)
File.rm_rf!(root)
