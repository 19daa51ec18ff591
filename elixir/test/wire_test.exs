defmodule Store.KV.Engine.WireTest do
  # The pure byte layouts, against frames the Go side produced
  # (port/fixtures_test.go writes test/fixtures/wire): no sidecar runs.
  use ExUnit.Case, async: true

  alias Store.KV.Engine.Wire

  @fixtures Path.expand("fixtures/wire", __DIR__)

  defp fixture(name), do: File.read!(Path.join(@fixtures, name))

  defp terms(<<len::32, term::binary-size(len), rest::binary>>), do: [term | terms(rest)]
  defp terms(<<>>), do: []

  # Every reply frame of a port's output stream (length-prefixed packets),
  # batch frames unpacked: [{more, id, body}] and the number of batch frames.
  defp replies(<<len::32, packet::binary-size(len), rest::binary>>, acc, batches) do
    batch_id = Wire.batch_id()

    case packet do
      <<^batch_id::64, entries::binary>> ->
        {:ok, pid} = Agent.start_link(fn -> [] end)

        Wire.each_entry(entries, fn more, id, body ->
          Agent.update(pid, &[{more, id, body} | &1])
        end)

        got = Agent.get(pid, & &1)
        Agent.stop(pid)
        replies(rest, got ++ acc, batches + 1)

      <<more::1, id::63, body::binary>> ->
        replies(rest, [{more, id, body} | acc], batches)
    end
  end

  defp replies(<<>>, acc, batches),
    do: {Map.new(acc, fn {_more, id, body} -> {id, body} end), batches}

  test "request entries and batch frames are the bytes the sidecar reads" do
    [get_a, get_b] = terms(fixture("request_terms.bin"))
    # The engine process keeps its entries newest first.
    batch = Wire.frames([Wire.entry(12, get_b), Wire.entry(11, get_a)])
    assert IO.iodata_to_binary(batch) == fixture("request_batch.bin")
    # One request alone goes as a plain frame; the port adds its length.
    assert IO.iodata_to_binary(Wire.frames([Wire.entry(11, get_a)])) == <<11::64, get_a::binary>>
  end

  test "replies: plain and batch frames, packed scan rows, iterator moves" do
    {by_id, batches} = replies(fixture("replies.bin"), [], 0)
    assert batches > 0, "the fixture has a batch frame"
    assert Enum.sort(Map.keys(by_id)) == [1, 2, 3, 4, 5, 11, 12]
    assert Wire.decode(by_id[1]) == :ok
    assert Wire.decode(by_id[2]) == :ok

    scan = by_id[3]
    assert Wire.packed_count(scan) == {"done", 2}

    assert {:done, [{"a", "1"}, {"b", "2"}],
            %{rows_returned: 2, bytes_read: 4, scan_time_ms: 0.0}} = Wire.decode_batch(scan)

    assert Wire.decode(by_id[4]) == {:ok, 1}
    assert {:ok, packed, false} = Wire.decode(by_id[5])
    assert Wire.unpack(packed, []) == [{"a", "1"}, {"b", "2"}]
    assert Wire.decode(by_id[11]) == {:ok, "1"}
    assert Wire.decode(by_id[12]) == {:ok, "2"}
    assert Wire.packed_count(by_id[11]) == nil
  end

  test "every atom a reply may hold exists, so safe decoding never fails on one" do
    for atom <- Wire.reply_atoms(), do: assert(is_atom(atom))
    assert_raise ArgumentError, fn -> Wire.decode(<<131, 100, 0, 17, "spire_never_atom_">>) end
  end

  test "point-read replies decode as binary_to_term does; a value does not pin a batch frame" do
    value = :binary.copy("v", 100)
    ok_value = <<131, 104, 2, 119, 2, "ok", 109, 100::32, value::binary>>

    for body <- [ok_value, <<131, 119, 2, "ok">>, <<131, 119, 9, "not_found">>],
        do: assert(Wire.decode(body) == :erlang.binary_to_term(body))

    # Shapes not matched fall back to binary_to_term.
    other = :erlang.term_to_binary({:error, {:busy, "x"}})
    assert Wire.decode(other) == {:error, {:busy, "x"}}

    # A reply of its own: the value stays a part of its frame, uncopied.
    frame = :binary.copy(<<7::64, ok_value::binary>>)
    <<_id::64, alone::binary>> = frame
    assert {:ok, ^value} = Wire.decode(alone)
    {:ok, part} = Wire.decode(alone)
    assert :binary.referenced_byte_size(part) == byte_size(frame)

    # One reply of a batch frame of 16: the value is copied out, so keeping
    # it does not keep the whole frame in memory.
    batch = :binary.copy(<<16 + byte_size(ok_value)::32>> <> ok_value, 16)
    <<_len::32, mine::binary-size(byte_size(ok_value)), _rest::binary>> = batch
    assert {:ok, kept} = Wire.decode(mine)
    assert kept == value
    assert :binary.referenced_byte_size(kept) == 100
  end
end
