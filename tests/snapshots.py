"""What the server holds, byte for byte: to show that a refused call changed nothing.

Values are compared, not DUMP payloads: reading a large hash may rehash it
(Valkey 8), which reorders its DUMP without changing a byte of its contents.
"""

from __future__ import annotations

from typing import Any

import redis

_READ = {
    b"string": lambda pipe, key: pipe.get(key),
    b"hash": lambda pipe, key: pipe.hgetall(key),
    b"list": lambda pipe, key: pipe.lrange(key, 0, -1),
    b"set": lambda pipe, key: pipe.smembers(key),
    b"zset": lambda pipe, key: pipe.zrange(key, 0, -1, withscores=True),
    b"stream": lambda pipe, key: pipe.xrange(key),
}


Snapshot = dict[bytes, tuple[bytes, Any, bool]]


def snapshot(url: str, pattern: str = "*") -> Snapshot:
    """Every key matching ``pattern``: its type, its contents (as bytes) and
    whether it expires (a TTL that merely ticks down is not a change)."""
    client = redis.Redis.from_url(url)
    try:
        keys = sorted(client.scan_iter(match=pattern, count=1000))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
            pipe.pttl(key)
        meta = pipe.execute()
        # a key that expired since the SCAN types as none or has PTTL -2
        present = [(key, meta[2 * i], meta[2 * i + 1] >= 0) for i, key in enumerate(keys)
                   if meta[2 * i] != b"none" and meta[2 * i + 1] != -2]
        pipe = client.pipeline(transaction=False)
        for key, kind, _ in present:
            _READ[kind](pipe, key)
        values = pipe.execute()
    finally:
        client.close()
    return {key: (kind, value, volatile)
            for (key, kind, volatile), value in zip(present, values, strict=True)}


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What was written between the two snapshots: keys added, changed or
    removed, except keys with a TTL that expired meanwhile (deduplication windows)."""
    found = [f"removed {key!r}" for key in before if key not in after and not before[key][2]]
    for key, value in after.items():
        if key not in before:
            found.append(f"added {key!r}: {value!r}"[:300])
        elif before[key] != value:
            found.append(f"changed {key!r}: {before[key]!r} -> {value!r}"[:300])
    return found

