defmodule Store.KV.Engine.Backup do
  @moduledoc false
  # Backups with RocksDB's BackupEngine. backup/3 asks a running engine's
  # sidecar (the database is there); the others work on a backup
  # directory alone, so they run the spire-port binary once (its
  # backup-* commands) and read the one term it prints.

  alias Store.KV.Engine.{Caller, Tool}

  @max_id 0xFFFFFFFF

  @type info :: %{
          id: pos_integer(),
          timestamp: integer(),
          size: non_neg_integer(),
          files: non_neg_integer()
        }

  @doc false
  @spec backup(Engine.engine(), String.t(), keyword()) :: {:ok, info()} | {:error, term()}
  def backup(engine, dir, opts) when is_binary(dir) and is_list(opts) do
    with {:ok, wire, timeout} <- backup_opts(opts) do
      Caller.call(engine, {:backup, dir, wire}, timeout)
    end
  end

  def backup(_engine, dir, opts),
    do:
      {:error,
       {:badarg, "backup needs a directory and a keyword list, got: #{inspect({dir, opts})}"}}

  defp backup_opts(opts) do
    Enum.reduce_while(opts, {:ok, [], :infinity}, fn
      {:flush, v}, {:ok, acc, t} when is_boolean(v) ->
        {:cont, {:ok, [{:flush, v} | acc], t}}

      {k, v}, {:ok, acc, t}
      when k in [:rate_limit_bytes_per_sec, :progress_every_bytes] and is_integer(v) and v >= 0 ->
        {:cont, {:ok, [{k, v} | acc], t}}

      {:timeout, t}, {:ok, acc, _} when (is_integer(t) and t > 0) or t == :infinity ->
        {:cont, {:ok, acc, t}}

      other, _ ->
        {:halt, {:error, {:badarg, "unknown or invalid backup option: #{inspect(other)}"}}}
    end)
  end

  @doc false
  @spec list(String.t()) :: {:ok, [info()]} | {:error, term()}
  def list(dir), do: Tool.run(["backup-list", dir])

  @doc false
  @spec verify(String.t(), pos_integer()) :: :ok | {:error, term()}
  def verify(dir, id) when is_integer(id) and id in 1..@max_id,
    do: Tool.run(["backup-verify", dir, "#{id}"])

  def verify(_dir, id), do: bad_id(id)

  @doc false
  @spec delete(String.t(), pos_integer()) :: :ok | {:error, term()}
  def delete(dir, id) when is_integer(id) and id in 1..@max_id,
    do: Tool.run(["backup-delete", dir, "#{id}"])

  def delete(_dir, id), do: bad_id(id)

  # RocksDB's backup ids are 32 bits: a larger one must not wrap onto
  # another backup.
  defp bad_id(id), do: {:error, {:badarg, "a backup id is 1..#{@max_id}, got: #{inspect(id)}"}}

  @doc false
  @spec purge(String.t(), keyword()) :: :ok | {:error, term()}
  def purge(dir, opts) do
    case Keyword.fetch(opts, :keep) do
      {:ok, n} when is_integer(n) and n in 0..@max_id -> Tool.run(["backup-purge", dir, "#{n}"])
      _ -> {:error, {:badarg, "purge_old_backups needs keep: n (an integer 0..#{@max_id})"}}
    end
  end

  @doc false
  @spec restore(String.t(), pos_integer() | :latest, String.t(), boolean()) ::
          :ok | {:error, term()}
  def restore(dir, id, to_path, flat \\ false)

  def restore(dir, id, to_path, flat)
      when (id == :latest or (is_integer(id) and id in 1..@max_id)) and is_binary(to_path) do
    Tool.run(["backup-restore", dir, to_string(id), to_path] ++ if(flat, do: ["flat"], else: []))
  end

  def restore(_dir, id, _to_path, _flat), do: bad_id(id)
end
