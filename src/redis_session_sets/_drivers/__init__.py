"""The drivers: ``Store`` and ``AsyncStore`` send what the engine asks with redis-py."""
