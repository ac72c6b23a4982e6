"""Throwaway redis-server processes on free loopback ports, for the tests.

Never touches the server on 6379: every server here is started by the tests, in a
temporary folder, and stopped by them. The process handling is the demo's own
(``redis_session_sets.demo._redis``), so both find and start redis-server the same way.
"""

from __future__ import annotations

import redis

from redis_session_sets.demo._redis import LocalRedis, free_port, redis_server_binary

__all__ = ["RedisServer", "free_port", "redis_server_binary"]


class RedisServer(LocalRedis):
    """One redis-server on 127.0.0.1; can be stopped and started again on the same port."""

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)
