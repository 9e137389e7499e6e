"""API keys (hashed at rest), per-key rate limits and request size limits for ``steerlab serve``.

Keys live in ``WORKSPACE/serving/keys.json`` as salted SHA-256 digests, never in clear: a copy of
the file (a backup, a support bundle) gives nobody access. A key is shown once, when it is
created. Each key has its own rate (requests per minute), enforced by a token bucket that allows
a short burst up to the per-minute rate and then refills continuously, so a client that paces
itself is never refused and one that floods is refused quickly and cheaply.

A server started with no keys file is open (local development) and says so at start-up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steerlab.atomic import atomic_write_text
from steerlab.errors import ConfigError

__all__ = ["ApiKey", "KeyStore", "RateLimiter", "keys_path"]

KEY_PREFIX = "sl-"


def keys_path(workspace: str | Path) -> Path:
    return Path(workspace) / "serving" / "keys.json"


@dataclass(frozen=True)
class ApiKey:
    name: str
    salt: str
    digest: str
    rate_per_minute: int
    created: str

    def matches(self, key: str) -> bool:
        return hmac.compare_digest(self.digest, _digest(self.salt, key))


def _digest(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()


class KeyStore:
    """The keys a server accepts, read once at start (restart to revoke: keys change rarely)."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys

    @property
    def open(self) -> bool:
        return not self.keys

    @classmethod
    def load(cls, workspace: str | Path) -> KeyStore:
        path = keys_path(workspace)
        if not path.is_file():
            return cls([])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls([ApiKey(**item) for item in data["keys"]])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"cannot read the API keys: {error}", path=path) from error

    def find(self, key: str | None) -> ApiKey | None:
        """The key record ``key`` belongs to, or None; every record is compared (constant work)."""
        if not key:
            return None
        found = None
        for record in self.keys:
            if record.matches(key):
                found = record
        return found

    @staticmethod
    def add(workspace: str | Path, name: str, rate_per_minute: int = 600) -> str:
        """Create a key called ``name`` and return it: the only time it is ever shown."""
        if rate_per_minute < 1:
            raise ConfigError("the rate must be at least 1 request per minute")
        path = keys_path(workspace)
        current = KeyStore.load(workspace).keys
        if any(k.name == name for k in current):
            raise ConfigError(f"a key called {name!r} exists", hint="revoke it first, or pick another name")
        key = KEY_PREFIX + secrets.token_urlsafe(24)
        salt = secrets.token_hex(8)
        record = ApiKey(name, salt, _digest(salt, key), rate_per_minute, time.strftime("%Y-%m-%dT%H:%M:%SZ"))
        _write(path, [*current, record])
        return key

    @staticmethod
    def revoke(workspace: str | Path, name: str) -> None:
        path = keys_path(workspace)
        current = KeyStore.load(workspace).keys
        if not any(k.name == name for k in current):
            raise ConfigError(f"no key called {name!r}", path=path)
        _write(path, [k for k in current if k.name != name])


def _write(path: Path, keys: list[ApiKey]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"format": 1, "keys": [k.__dict__ for k in keys]}
    atomic_write_text(path, json.dumps(data, indent=1))
    path.chmod(0o600)


class RateLimiter:
    """A token bucket per key: ``rate_per_minute`` tokens of capacity, refilled continuously."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, name: str, rate_per_minute: int, now: float | None = None) -> tuple[bool, float]:
        """Whether one more request is allowed now, and if not, the seconds until it would be."""
        now = time.monotonic() if now is None else now
        capacity, per_second = float(rate_per_minute), rate_per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(name, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * per_second)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return True, 0.0
            self._buckets[name] = (tokens, now)
            return False, (1.0 - tokens) / per_second
