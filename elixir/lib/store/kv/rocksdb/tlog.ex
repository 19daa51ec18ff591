defmodule Store.KV.RocksDB.TLog do
  @moduledoc false
  # The transaction log: an iterator over the write batches in the WAL from
  # a sequence number on, each as RocksDB serialized it (a binary that
  # write_binary_update/3 applies to another database) and, with
  # tlog_next_update/1, decoded into the NIF's rows.

  use Store.KV.RocksDB.Handles
  import Bitwise

  @tlog :spire_rocksdb_tlog

  @doc "An iterator over the WAL's batches from sequence number `since` on."
  @spec tlog_iterator(R.db_handle(), non_neg_integer()) :: {:ok, tuple()} | {:error, term()}
  def tlog_iterator(db, since) when is_integer(since) and since >= 0 do
    name = engine!(db)

    with {:ok, id} <- checked(name, Engine.Caller.call(name, {:tlog_iterator, since}, nil)),
         do: {:ok, {@tlog, name, id, new_life({:close, name, {:tlog_close, id}}, life(db))}}
  end

  @doc "The next batch: `{:ok, last_seq, binary}`, `{:error, :invalid_iterator}` at the end."
  @spec tlog_next_binary_update(tuple()) :: {:ok, non_neg_integer(), binary()} | {:error, term()}
  def tlog_next_binary_update({@tlog, name, id, life}) when is_atom(name) do
    unless Life.armed?(life), do: :erlang.error(:badarg)

    case checked(name, Engine.Caller.call(name, {:tlog_next, id}, nil)) do
      {:ok, seq, bin} -> {:ok, seq, bin}
      {:error, :not_found} -> {:error, :invalid_iterator}
      {:error, {:unknown_iterator, _}} -> :erlang.error(:badarg)
      error -> error
    end
  end

  def tlog_next_binary_update(_), do: :erlang.error(:badarg)

  @doc "The next batch, also decoded: `{:ok, last_seq, [row], binary}`."
  @spec tlog_next_update(tuple()) :: {:ok, non_neg_integer(), list(), binary()} | {:error, term()}
  def tlog_next_update(itr) do
    with {:ok, seq, bin} <- tlog_next_binary_update(itr), do: {:ok, seq, decode(bin), bin}
  end

  @doc "Closes a log iterator; closing twice is fine."
  @spec tlog_iterator_close(tuple()) :: :ok
  def tlog_iterator_close({@tlog, name, id, life}) when is_atom(name) do
    if Life.disarm(life) == :ok, do: cast_close(name, {:tlog_close, id})
    :ok
  end

  def tlog_iterator_close(_), do: :erlang.error(:badarg)

  @doc "Applies a batch as RocksDB serialized it (from a log iterator), atomically."
  @spec write_binary_update(R.db_handle(), binary(), list()) :: :ok | {:error, term()}
  def write_binary_update(db, bin, opts) when is_binary(bin) do
    name = engine!(db)

    case Engine.Caller.call(name, {:write_binary, bin, write_opts(opts, nil)}, nil) do
      # RocksDB finds a malformed batch corrupt; the sidecar refuses it
      # before it reaches the WAL, and answers as RocksDB would.
      {:error, {:badarg, msg}} -> {:error, {:error, String.to_charlist("Corruption: " <> msg)}}
      result -> write_result(name, result)
    end
  end

  @doc "The same as `tlog_iterator/2`."
  @spec updates_iterator(R.db_handle(), non_neg_integer()) :: {:ok, tuple()} | {:error, term()}
  def updates_iterator(db, since), do: tlog_iterator(db, since)

  @doc "The same as `tlog_next_binary_update/1`."
  @spec next_binary_update(tuple()) :: {:ok, non_neg_integer(), binary()} | {:error, term()}
  def next_binary_update(itr), do: tlog_next_binary_update(itr)

  @doc "The same as `tlog_next_update/1`."
  @spec next_update(tuple()) :: {:ok, non_neg_integer(), list(), binary()} | {:error, term()}
  def next_update(itr), do: tlog_next_update(itr)

  @doc "The same as `tlog_iterator_close/1`."
  @spec close_updates_iterator(tuple()) :: :ok
  def close_updates_iterator(itr), do: tlog_iterator_close(itr)

  # RocksDB's write-batch layout: a 12-byte header (sequence, count), then
  # records of a tag, a varint column family id for the _CF kinds, and
  # varint-length-prefixed key (and value). Rows as the NIF's handler
  # gives them: the family's id only when it is not the default.
  defp decode(<<_seq::64, _count::32, records::binary>>), do: records(records, [])

  defp records(<<>>, acc), do: Enum.reverse(acc)

  defp records(<<tag, rest::binary>>, acc) do
    {cf, rest} = if tag in [4, 5, 6, 8, 14], do: varint(rest), else: {0, rest}
    {key, rest} = slice(rest)

    case tag do
      t when t in [1, 5, 2, 6, 15, 14] ->
        {value, rest} = slice(rest)

        kind =
          %{
            1 => :put,
            5 => :put,
            2 => :merge,
            6 => :merge,
            15 => :delete_range,
            14 => :delete_range
          }[t]

        records(rest, [row(kind, cf, [key, value]) | acc])

      t when t in [0, 4] ->
        records(rest, [row(:delete, cf, [key]) | acc])

      t when t in [7, 8] ->
        records(rest, [row(:single_delete, cf, [key]) | acc])

      3 ->
        records(rest, acc)
    end
  end

  defp row(kind, 0, fields), do: List.to_tuple([kind | fields])
  defp row(kind, cf, fields), do: List.to_tuple([kind, cf | fields])

  defp slice(bin) do
    {n, rest} = varint(bin)
    <<s::binary-size(n), rest::binary>> = rest
    {s, rest}
  end

  defp varint(bin, shift \\ 0, acc \\ 0)

  defp varint(<<1::1, b::7, rest::binary>>, shift, acc),
    do: varint(rest, shift + 7, acc ||| b <<< shift)

  defp varint(<<0::1, b::7, rest::binary>>, shift, acc), do: {acc ||| b <<< shift, rest}
end
