import Config

# `iex -S mix` starts an engine named Store.KV.Engine on this data dir, so
# Store.KV.Engine.put(Store.KV.Engine, "user:1", "alice") works at the prompt.
config :spire_port, :engine, path: Path.expand("../data/dev", __DIR__)

import_config "#{config_env()}.exs"
