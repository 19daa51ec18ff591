defmodule Store.KV.RocksDB.ColumnFamilies do
  @moduledoc false
  # Column family handles: list, create, drop.

  use Store.KV.RocksDB.Handles
  alias Store.KV.Engine.Tool

  @doc "The handle of column family `family` of a database."
  @spec cf_handle(R.db_handle(), String.t()) :: R.cf_handle()
  def cf_handle(db, family) when is_binary(family), do: cf(db, family)

  @doc "Handles of every column family of a database, by name."
  @spec column_families(R.db_handle()) :: {:ok, %{String.t() => R.cf_handle()}} | {:error, term()}
  def column_families(db) do
    name = engine!(db)

    with {:ok, names} <- checked(name, Engine.list_column_families(name)) do
      {:ok, Map.new(names, &{&1, cf(db, &1)})}
    end
  end

  @doc "Lists the column families of the database in `path` (charlists), open or not."
  @spec list_column_families(R.path(), list()) :: {:ok, [charlist()]} | {:error, term()}
  def list_column_families(path, opts) do
    Args.opts!(opts)

    case Args.expand!(path) do
      nil -> {:error, {:db_open, ~c"Invalid argument: an empty path"}}
      abs -> list_families(abs)
    end
  end

  # Names are the bytes RocksDB keeps, one character a byte, as the NIF
  # lists them: a name that is not UTF-8 lists as well as any other.
  defp list_families(abs) do
    name = engine_name(abs)

    if alive?(name) do
      with {:ok, names} <- Engine.list_column_families(name),
           do: {:ok, Enum.map(names, &:erlang.binary_to_list/1)}
    else
      case Tool.run(["--path", abs, "--data-dir", abs, "--list-column-families"]) do
        {:ok, names} -> {:ok, Enum.map(names, &:erlang.binary_to_list/1)}
        {:error, msg} when is_binary(msg) -> {:error, {:db_open, String.to_charlist(msg)}}
        {:error, _} = error -> error
      end
    end
  end

  @doc "Creates a column family; returns its handle."
  @spec create_column_family(R.db_handle(), R.path(), list()) ::
          {:ok, R.cf_handle()} | {:error, term()}
  def create_column_family(db, family, cf_opts) do
    name = engine!(db)
    family = Args.cf_name!(family)
    Args.opts!(cf_opts)

    with :ok <- checked(name, Engine.create_column_family(name, family)),
         do: {:ok, cf(db, family)}
  end

  @doc "Drops a column family and its data."
  @spec drop_column_family(R.db_handle(), R.cf_handle()) :: :ok | {:error, term()}
  def drop_column_family(db, cf) do
    name = engine!(db)
    checked(name, Engine.drop_column_family(name, family!(name, cf)))
  end

  @doc "Drops the column family a handle names (erlang-rocksdb's deprecated form)."
  @spec drop_column_family(R.cf_handle()) :: :ok | {:error, term()}
  def drop_column_family({@cf, name, _family, _life} = cf) when is_atom(name) do
    checked(name, Engine.drop_column_family(name, family!(name, cf)))
  end

  def drop_column_family(_cf), do: :erlang.error(:badarg)

  @doc """
  Lets go of a column family handle (RocksDB's DestroyColumnFamilyHandle):
  the family and its data stay.
  """
  @spec destroy_column_family(R.db_handle(), R.cf_handle()) :: :ok
  def destroy_column_family(db, cf) do
    family!(engine!(db), cf)
    :ok
  end

  @doc "As `destroy_column_family/2` (erlang-rocksdb's deprecated form)."
  @spec destroy_column_family(R.cf_handle()) :: :ok
  def destroy_column_family({@cf, name, _family, _life} = cf) when is_atom(name) do
    family!(name, cf)
    :ok
  end

  def destroy_column_family(_cf), do: :erlang.error(:badarg)
end
