import Config

config :spire_port, :engine, path: System.get_env("SPIRE_DATA_DIR", "/var/lib/spiredb")
