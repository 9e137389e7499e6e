"""The task endpoint over real releases on the tiny model: batching, release switches without a
restart, fallback and escalation, and clear 4xx errors for bad requests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from steerlab.release import create_release, promote, rollback
from steerlab.serving.app import create_serving_app
from steerlab.serving.service import ServiceSettings, TaskService

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LABELS = {"billing", "shipping", "login"}


def releases(task, ws: Path) -> dict[str, str]:
    return {name: create_release(ws, task, name)[0].id for name in ("zero", "two-shot")}


async def serve(task, ws: Path, settings: ServiceSettings, calls, **app_options):
    """Start the service, run ``calls(client, service)``, stop it."""
    service = TaskService(task, ws, settings)
    app = create_serving_app({task.name: service}, **app_options)
    await service.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://steerlab") as client:
            return await calls(client, service)
    finally:
        await service.close()


def test_concurrent_requests_are_batched_and_switch_release_without_restart(space) -> None:
    task, ws = space
    ids = releases(task, ws)
    promote(ws, task, ids["zero"])
    url = f"/v1/tasks/{task.name}/predict"

    async def calls(client: httpx.AsyncClient, service: TaskService):
        texts = [f"my parcel number {i} never arrived" for i in range(8)]
        first = await asyncio.gather(*(client.post(url, json={"inputs": {"text": t}}) for t in texts))
        batching = service.active.batcher.stats
        promote(ws, task, ids["two-shot"])
        switched = await client.post(url, json={"inputs": {"text": "I was charged twice"}})
        rollback(ws, task)
        back = await client.post(url, json={"inputs": {"text": "I was charged twice"}})
        ready = await client.get("/readyz")
        return first, batching, switched, back, ready

    first, batching, switched, back, ready = asyncio.run(serve(task, ws, ServiceSettings(poll_s=0), calls))
    assert all(r.status_code == 200 for r in first)
    bodies = [r.json() for r in first]
    assert all(b["output"] in LABELS and b["route"] == "primary" for b in bodies)
    assert {b["release"] for b in bodies} == {ids["zero"]}
    assert all(0 <= b["confidence"] <= 1 for b in bodies)
    assert batching.mean_batch > 1  # eight concurrent requests, fewer model calls
    assert switched.json()["release"] == ids["two-shot"]
    assert back.json()["release"] == ids["zero"]
    assert ready.json() == {"ready": True, "releases": {task.name: ids["zero"]}}


def test_a_failing_backend_falls_back_then_escalates(space) -> None:
    task, ws = space
    ids = releases(task, ws)
    promote(ws, task, ids["zero"])
    url = f"/v1/tasks/{task.name}/predict"

    def broken(_batch):
        raise ConnectionError("backend killed")

    async def calls(client: httpx.AsyncClient, service: TaskService):
        service.active.batcher.fn = broken
        return await client.post(url, json={"inputs": {"text": "I cannot log in"}})

    with_fallback = ServiceSettings(poll_s=0, fallback=ids["two-shot"])
    answer = asyncio.run(serve(task, ws, with_fallback, calls)).json()
    assert answer["route"] == "fallback" and answer["release"] == ids["two-shot"]
    assert answer["output"] in LABELS and "backend error: ConnectionError" in answer["reason"]

    escalated = asyncio.run(serve(task, ws, ServiceSettings(poll_s=0), calls))
    assert escalated.status_code == 200
    body = escalated.json()
    assert body["route"] == "escalated" and body["escalated"] is True and body["output"] is None


def test_answers_below_the_confidence_threshold_are_escalated(space) -> None:
    task, ws = space
    promote(ws, task, releases(task, ws)["zero"])

    async def calls(client: httpx.AsyncClient, service: TaskService):
        return await client.post(f"/v1/tasks/{task.name}/predict", json={"inputs": {"text": "help"}})

    body = asyncio.run(serve(task, ws, ServiceSettings(poll_s=0, threshold=1.01), calls)).json()
    assert body["route"] == "escalated" and body["output"] is None
    assert body["reason"].startswith("confidence ") and "below 1.01" in body["reason"]


def test_bad_requests_get_clear_4xx_errors(space) -> None:
    task, ws = space
    promote(ws, task, releases(task, ws)["zero"])
    url = f"/v1/tasks/{task.name}/predict"

    async def calls(client: httpx.AsyncClient, service: TaskService):
        return {
            "unknown task": await client.post("/v1/tasks/nope/predict", json={"inputs": {"text": "x"}}),
            "missing field": await client.post(url, json={"inputs": {"body": "x"}}),
            "extra key": await client.post(url, json={"inputs": {"text": "x"}, "debug": True}),
            "malformed": await client.post(
                url, content=b'{"inputs": {', headers={"content-type": "application/json"}
            ),
            "chat": await client.post(
                "/v1/chat/completions",
                json={"model": task.name, "messages": [{"role": "user", "content": "charged twice"}]},
            ),
        }

    got = asyncio.run(serve(task, ws, ServiceSettings(poll_s=0), calls))
    assert got["unknown task"].status_code == 404
    assert "served: runner" in got["unknown task"].json()["error"]["message"]
    assert got["missing field"].status_code == 422
    assert "missing input field 'text'" in got["missing field"].json()["error"]["message"]
    assert got["extra key"].status_code == 422 and "debug" in got["extra key"].json()["error"]["message"]
    assert got["malformed"].status_code == 422
    chat = got["chat"].json()
    assert got["chat"].status_code == 200 and json.loads(chat["choices"][0]["message"]["content"]) in LABELS


def test_keys_rate_limits_and_body_size_are_enforced(space) -> None:
    from steerlab.serving.security import KeyStore

    task, ws = space
    promote(ws, task, releases(task, ws)["zero"])
    key = KeyStore.add(ws, "crm", rate_per_minute=2)
    url = f"/v1/tasks/{task.name}/predict"
    body = {"inputs": {"text": "I was charged twice"}}

    async def calls(client: httpx.AsyncClient, service: TaskService):
        return {
            "no key": await client.post(url, json=body),
            "wrong key": await client.post(url, json=body, headers={"authorization": "Bearer sl-wrong"}),
            "ok": await client.post(url, json=body, headers={"authorization": f"Bearer {key}"}),
            "ok again": await client.post(url, json=body, headers={"x-api-key": key}),
            "limited": await client.post(url, json=body, headers={"x-api-key": key}),
            "oversized": await client.post(
                url, json={"inputs": {"text": "x" * 70_000}}, headers={"x-api-key": key}
            ),
            "health": await client.get("/healthz"),
        }

    got = asyncio.run(serve(task, ws, ServiceSettings(poll_s=0), calls, keys=KeyStore.load(ws)))
    assert got["no key"].status_code == 401 and got["wrong key"].status_code == 401
    assert got["ok"].status_code == 200 and got["ok again"].status_code == 200
    assert got["limited"].status_code == 429 and int(got["limited"].headers["retry-after"]) >= 1
    assert got["oversized"].status_code == 413
    assert got["health"].status_code == 200  # probes need no key
    assert all("Traceback" not in r.text for r in got.values())


def test_every_request_is_logged_with_redacted_inputs(space) -> None:
    from steerlab.serving.requestlog import RequestLog

    task, ws = space
    ids = releases(task, ws)
    promote(ws, task, ids["zero"])
    log = RequestLog.for_workspace(ws)
    url = f"/v1/tasks/{task.name}/predict"

    def redact(inputs: dict) -> dict:
        return {k: v.replace("ada@example.com", "<EMAIL>") for k, v in inputs.items()}

    async def calls(client: httpx.AsyncClient, service: TaskService):
        ok = await client.post(url, json={"inputs": {"text": "refund to ada@example.com please"}})
        bad = await client.post(url, json={"inputs": {"body": "ada@example.com"}})
        return ok, bad

    ok, bad = asyncio.run(serve(task, ws, ServiceSettings(poll_s=0), calls, log=log, redactor=redact))
    assert ok.status_code == 200 and bad.status_code == 422
    log.close()
    rows = RequestLog.for_workspace(ws).recent(task=task.name)
    assert [r["status"] for r in rows] == [200, 422]
    assert rows[0]["request_id"] == ok.headers["x-request-id"] == ok.json()["request_id"]
    assert rows[0]["release"] == ids["zero"] and rows[0]["route"] == "primary"
    assert rows[0]["output"] in LABELS and rows[0]["latency_s"] > 0
    assert rows[0]["inputs"] == {"text": "refund to <EMAIL> please"}
    assert rows[1]["inputs"] == {"body": "<EMAIL>"} and "missing input field" in rows[1]["reason"]
    assert "ada@example.com" not in (ws / "serving" / "requests.sqlite").read_bytes().decode("latin-1")
