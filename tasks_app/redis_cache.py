"""Django's Redis cache for a Redis database it shares with Celery and the channel layer.

clear() deletes only this cache's keys (Django's flushes the whole database: the broker's queues
too), and incr() is one atomic step, so a counter can never lose its expiry between two commands.
"""
from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

# INCRBY only an existing key: Django's incr() contract, without its EXISTS-then-INCR race.
_INCR_EXISTING = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('incrby', KEYS[1], ARGV[1]) end"


class _OneClientPerPool(RedisCacheClient):
    """Django's client makes a new redis.Redis (its ~170 response callbacks) for every command;
    one per connection pool does the same work (a cache instance belongs to one thread)."""

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]  # private in the stubs
        clients = self.__dict__.setdefault("_clients", {})
        if id(pool) not in clients:
            clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return clients[id(pool)]


class SharedRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]):
        super().__init__(server, params)
        self._class = _OneClientPerPool
        if not self.key_prefix:
            raise ValueError("SharedRedisCache needs a KEY_PREFIX: clear() deletes the keys under it")

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        full_key = self.make_and_validate_key(key, version=version)
        value = self._cache.get_client(full_key, write=True).eval(_INCR_EXISTING, 1, full_key, delta)
        if value is None:
            raise ValueError(f"Key '{full_key}' not found.")
        return int(value)

    def clear(self) -> None:
        client = self._cache.get_client(None, write=True)
        for keys in _batches(client.scan_iter(match=f"{self.key_prefix}:*", count=500), 500):
            client.delete(*keys)


def _batches(items: Any, size: int) -> Any:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
