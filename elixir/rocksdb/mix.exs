defmodule Rocksdb.MixProject do
  use Mix.Project

  # The OTP application :rocksdb: erlang-rocksdb's API over the spire-port
  # sidecar. Depend on it (a path or git dependency) where a project had
  # {:rocksdb, "~> 1.9"}; nothing else changes.
  def project do
    [
      app: :rocksdb,
      version: "1.9.0+spire",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      elixirc_options: [warnings_as_errors: true],
      deps: [{:spire_port, path: ".."}]
    ]
  end

  def application, do: [extra_applications: [:logger]]
end
