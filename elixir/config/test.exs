import Config

# Tests start their own engines, each in its own directory.
config :spire_port, :engine, false
config :logger, level: :warning
