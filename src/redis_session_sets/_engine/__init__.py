"""The sans-IO engine: key layout, validation, codec, operations as generators,
topologies (single server, Cluster) and the Lua scripts. Nothing here does I/O."""
