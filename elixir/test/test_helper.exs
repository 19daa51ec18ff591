# Crash-inducing and long tests are tagged :slow and excluded by default;
# `make test` (and so CI) includes them.
ExUnit.start(exclude: [:slow], capture_log: true)
