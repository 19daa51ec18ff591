defmodule Store.KV.RocksDB.Backups do
  @moduledoc false
  # Backups and checkpoints.

  use Store.KV.RocksDB.Handles

  @typedoc "A backup engine handle: the backup directory."
  @type backup_engine :: {:spire_rocksdb_backup_engine, String.t()}

  @doc "A handle on the backup directory `path` (created by the first backup)."
  @spec open_backup_engine(R.path()) :: {:ok, R.backup_engine()}
  def open_backup_engine(path), do: {:ok, {@backup, Args.expand!(path) || :erlang.error(:badarg)}}

  @doc "Forgets a backup engine handle."
  @spec close_backup_engine(R.backup_engine()) :: :ok
  def close_backup_engine({@backup, _}), do: :ok
  def close_backup_engine(_), do: :erlang.error(:badarg)

  @doc "Nothing to collect: every call opens and closes RocksDB's BackupEngine."
  @spec gc_backup_engine(R.backup_engine()) :: :ok
  def gc_backup_engine({@backup, _}), do: :ok
  def gc_backup_engine(_), do: :erlang.error(:badarg)

  @doc "Adds a backup of `db` (with the WAL, as RocksDB's CreateNewBackup does)."
  @spec create_new_backup(R.backup_engine(), R.db_handle()) :: :ok | {:error, term()}
  def create_new_backup({@backup, dir}, db) do
    name = engine!(db)

    case checked(name, Engine.backup(name, dir)) do
      {:ok, _info} -> :ok
      error -> error
    end
  end

  def create_new_backup(_, _), do: :erlang.error(:badarg)

  @doc "A backup cannot be stopped once started here; it runs to its end."
  @spec stop_backup(R.backup_engine()) :: :ok
  def stop_backup({@backup, _}), do: :ok

  @doc """
  `{:ok, [%{backup_id:, timestamp:, size:, number_files:}]}`, newest first,
  as the NIF lists them (`{:ok, []}` for a directory with none).
  """
  @spec get_backup_info(R.backup_engine()) :: {:ok, [map()]}
  def get_backup_info({@backup, dir}) do
    case Engine.list_backups(dir) do
      {:ok, infos} ->
        list =
          for i <- Enum.reverse(infos),
              do: %{backup_id: i.id, timestamp: i.timestamp, size: i.size, number_files: i.files}

        {:ok, list}

      {:error, _} ->
        {:ok, []}
    end
  end

  @doc "Checks every file of a backup, checksums included."
  @spec verify_backup(R.backup_engine(), pos_integer()) :: :ok | {:error, term()}
  def verify_backup({@backup, dir}, id) when is_integer(id) and id in 1..0xFFFFFFFF,
    do: Engine.verify_backup(dir, id)

  @doc "Deletes one backup."
  @spec delete_backup(R.backup_engine(), pos_integer()) :: :ok | {:error, term()}
  def delete_backup({@backup, dir}, id) when is_integer(id) and id in 1..0xFFFFFFFF,
    do: Engine.delete_backup(dir, id)

  @doc "Keeps the newest `n` backups."
  @spec purge_old_backup(R.backup_engine(), non_neg_integer()) :: :ok | {:error, term()}
  def purge_old_backup({@backup, dir}, n) when is_integer(n) and n in 0..0xFFFFFFFF,
    do: Engine.purge_old_backups(dir, keep: n)

  @doc "Restores backup `id` as a database in `db_dir` (RocksDB's files in it)."
  @spec restore_db_from_backup(R.backup_engine(), pos_integer(), R.path()) ::
          :ok | {:error, term()}
  def restore_db_from_backup({@backup, dir}, id, db_dir)
      when is_integer(id) and id in 1..0xFFFFFFFF,
      do:
        Store.KV.Engine.Backup.restore(
          dir,
          id,
          Args.expand!(db_dir) || :erlang.error(:badarg),
          true
        )

  @doc "As `restore_db_from_backup/3`; the WAL goes with the database."
  @spec restore_db_from_backup(R.backup_engine(), pos_integer(), R.path(), R.path()) ::
          :ok | {:error, term()}
  def restore_db_from_backup(be, id, db_dir, _wal_dir), do: restore_db_from_backup(be, id, db_dir)

  @doc "Restores the latest backup as a database in `db_dir`."
  @spec restore_db_from_latest_backup(R.backup_engine(), R.path()) :: :ok | {:error, term()}
  def restore_db_from_latest_backup({@backup, dir}, db_dir),
    do:
      Store.KV.Engine.Backup.restore(
        dir,
        :latest,
        Args.expand!(db_dir) || :erlang.error(:badarg),
        true
      )

  @doc "As `restore_db_from_latest_backup/2`; the WAL goes with the database."
  @spec restore_db_from_latest_backup(R.backup_engine(), R.path(), R.path()) ::
          :ok | {:error, term()}
  def restore_db_from_latest_backup(be, db_dir, _wal_dir),
    do: restore_db_from_latest_backup(be, db_dir)

  @doc "Writes an openable copy of the database to `path` (RocksDB's files in it), which must not exist."
  @spec checkpoint(R.db_handle(), R.path()) :: :ok | {:error, term()}
  def checkpoint(db, path) do
    name = engine!(db)
    dir = Args.expand!(path) || :erlang.error(:badarg)
    checked(name, Store.KV.Engine.Caller.call(name, {:checkpoint, dir, [flat: true]}, 600_000))
  end
end
