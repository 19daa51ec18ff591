defmodule Store.KV.Engine.Wire do
  @moduledoc false
  # The protocol's byte layouts on the Elixir side, as pure functions (no
  # process, no port), so they are tested without a sidecar against frames
  # the Go side produced (test/fixtures/wire): request entries and batch
  # frames, reply ids with their "more" bit, batch replies, packed rows.
  # docs/protocol.md is the contract.

  # Atoms the sidecar may send; naming them here guarantees they exist, so
  # replies decode with binary_to_term(bin, [:safe]).
  @reply_atoms ~w(ok error ready rows done not_found closed badarg rocksdb internal
                  unknown_column_family unknown_cursor unknown_snapshot too_many_iterators
                  too_many_snapshots open_failed bad_config rows_returned bytes_read
                  scan_time_ms tickers histograms properties column_families sidecar p50 p95
                  p99 max count sum capacity usage pinned_usage strict_capacity version path
                  open_iterators open_snapshots requests bad_frames groups grouped replies true false
                  log writes_stopped recoveries last_write_error unknown_iterator
                  no_backups backup_progress dir bytes id timestamp size files io_error
                  unknown_transaction)a

  @doc "The atoms replies may hold."
  @spec reply_atoms() :: [atom()]
  def reply_atoms, do: @reply_atoms

  @doc "The id of a frame that carries several frames."
  @spec batch_id() :: non_neg_integer()
  def batch_id, do: 0xFFFFFFFFFFFFFFFF

  @doc """
  Bit 62 of a request id: its replies come on the reply socket
  (docs/protocol.md, "The reply socket").
  """
  @spec side_bit() :: pos_integer()
  def side_bit, do: 0x4000000000000000

  @doc """
  Bit 58 of a request id, Store.KV.Engine's own: the caller marks a
  request the engine process may ask the reply socket for. The ids
  callers draw stay below it, so an id stays a small integer.
  """
  @spec worthy_bit() :: pos_integer()
  def worthy_bit, do: 0x400000000000000

  @doc "One request entry: `<<length::32, id::64>>` and the term."
  @spec entry(non_neg_integer(), binary()) :: iolist()
  def entry(id, term), do: [<<byte_size(term) + 8::32, id::64>> | term]

  @doc """
  The entry of a plain get, `{:get, key, []}` in the external term format,
  framed around the key without encoding a term.
  """
  @spec get_entry(non_neg_integer(), binary()) :: iolist()
  def get_entry(id, key) do
    size = byte_size(key)

    [
      <<size + 22::32, id::64>>
      | [<<131, 104, 3, 119, 3, "get", 109, size::32>>, key | [106]]
    ]
  end

  @doc """
  What goes to the port for these entries (newest first): one entry alone
  as a plain frame (the port adds its length), several as a batch frame.
  """
  @spec frames([iolist()]) :: iolist()
  def frames([[<<_::32, id::binary>> | term]]), do: [id | term]
  def frames(entries), do: [<<batch_id()::64>> | :lists.reverse(entries)]

  @doc """
  Calls `fun.(more, id, body)` for every entry of a batch reply's payload:
  `more` is 1 on every frame of a multi-frame reply but its last. A
  payload that stops making sense ends the walk with the bytes left.
  """
  @spec each_entry(binary(), (0 | 1, non_neg_integer(), binary() -> any())) ::
          :ok | {:error, {:malformed_batch, non_neg_integer()}}
  def each_entry(<<len::32, more::1, id::63, rest::binary>>, fun)
      when len >= 8 and byte_size(rest) >= len - 8 do
    size = len - 8
    <<body::binary-size(size), rest::binary>> = rest
    fun.(more, id, body)
    each_entry(rest, fun)
  end

  def each_entry(<<>>, _fun), do: :ok
  def each_entry(rest, _fun), do: {:error, {:malformed_batch, byte_size(rest)}}

  @doc "The tag (`\"rows\"` or `\"done\"`) and row count of a packed batch, or nil."
  @spec packed_count(binary()) :: {binary(), non_neg_integer()} | nil
  def packed_count(<<131, 104, 4, 119, 4, tag::binary-size(4), 98, count::32, _::binary>>)
      when tag in ["rows", "done"],
      do: {tag, count}

  def packed_count(_frame), do: nil

  # One batch of a scan or cursor: {:rows | :done, rows, stats}, from a
  # packed frame ({Tag, Count, <<rows>>, Stats}) or a plain one; any other
  # reply (an error) decodes as usual.
  @doc "One batch of a scan, cursor or iterator move."
  @spec decode_batch(binary()) :: term()
  def decode_batch(
        <<131, 104, 4, 119, 4, tag::binary-size(4), 98, _::32, 109, len::32,
          packed::binary-size(len), stats::binary>>
      ) do
    {if(tag == "done", do: :done, else: :rows), unpack(packed, []),
     :erlang.binary_to_term(<<131, stats::binary>>, [:safe])}
  end

  def decode_batch(frame), do: decode(frame)

  # Keys and values stay sub-binaries of the frame: no copy, no allocation
  # per value. (A caller keeping a few values of a large scan for long can
  # :binary.copy/1 them, so they do not hold their frames in memory.)
  @doc "The {key, value} rows of a packed binary, in order."
  @spec unpack(binary(), list()) :: [{binary(), binary()}]
  def unpack(<<kl::32, k::binary-size(kl), vl::32, v::binary-size(vl), rest::binary>>, acc),
    do: unpack(rest, [{k, v} | acc])

  def unpack(<<>>, acc), do: :lists.reverse(acc)

  @doc "A reply term, decoded safely."
  @spec decode(binary()) :: term()
  # The replies of point reads and writes, as the sidecar encodes them
  # (SMALL_TUPLE, SMALL_ATOM_UTF8, BINARY), are matched here: cheaper than
  # binary_to_term/2, which is a good share of a get's cost in the BEAM.
  def decode(<<131, 104, 2, 119, 2, "ok", 109, len::32, value::binary-size(len)>>),
    do: {:ok, detach(value, 0)}

  def decode(<<131, 119, 2, "ok">>), do: :ok
  def decode(<<131, 119, 9, "not_found">>), do: :not_found
  def decode(body), do: :erlang.binary_to_term(body, [:safe])

  @doc """
  A value reply (`{ok, Binary}`) as the `{:ok, value}` its caller returns,
  the value copied into a binary of its own when it is at most
  `copy_up_to` bytes; any other reply unchanged, to be decoded later.
  """
  @spec own(binary(), non_neg_integer()) :: {:ok, binary()} | binary()
  def own(<<131, 104, 2, 119, 2, "ok", 109, len::32, value::binary-size(len)>>, copy_up_to),
    do: {:ok, detach(value, copy_up_to)}

  def own(body, _copy_up_to), do: body

  # A value is a sub-binary of its frame. Copied when it is small enough
  # (copy_up_to) or when its frame is a batch, which a caller keeping the
  # value would otherwise hold in memory whole; kept as it is when the
  # frame is little more than the value (a reply of its own).
  defp detach(value, copy_up_to) do
    size = byte_size(value)

    if size <= copy_up_to or :binary.referenced_byte_size(value) > 2 * size + 64,
      do: :binary.copy(value),
      else: value
  end
end
