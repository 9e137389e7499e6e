"""API keys are stored hashed and found again; the token bucket allows bursts then paces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steerlab.errors import ConfigError
from steerlab.serving.security import KeyStore, RateLimiter, keys_path


def test_keys_are_hashed_at_rest_and_found_by_value(tmp_path: Path) -> None:
    first = KeyStore.add(tmp_path, "crm", rate_per_minute=60)
    second = KeyStore.add(tmp_path, "batch-jobs")
    stored = keys_path(tmp_path).read_text()
    assert first not in stored and second not in stored  # only salted digests
    assert oct(keys_path(tmp_path).stat().st_mode & 0o777) == "0o600"
    store = KeyStore.load(tmp_path)
    assert store.find(first).name == "crm" and store.find(first).rate_per_minute == 60
    assert store.find(second).name == "batch-jobs"
    assert store.find("sl-not-a-key") is None and store.find(None) is None
    with pytest.raises(ConfigError, match="exists"):
        KeyStore.add(tmp_path, "crm")
    KeyStore.revoke(tmp_path, "crm")
    assert KeyStore.load(tmp_path).find(first) is None
    assert [k["name"] for k in json.loads(keys_path(tmp_path).read_text())["keys"]] == ["batch-jobs"]


def test_no_keys_file_means_an_open_server(tmp_path: Path) -> None:
    assert KeyStore.load(tmp_path).open


def test_the_rate_limit_allows_a_burst_then_refills() -> None:
    limiter = RateLimiter()
    allowed = [limiter.allow("k", 3, now=100.0)[0] for _ in range(4)]
    assert allowed == [True, True, True, False]
    ok, wait = limiter.allow("k", 3, now=100.0)
    assert not ok and wait == pytest.approx(20.0)  # 3 a minute: one every 20 s
    assert limiter.allow("k", 3, now=120.5)[0]
    assert limiter.allow("other", 3, now=100.0)[0]  # buckets are per key
