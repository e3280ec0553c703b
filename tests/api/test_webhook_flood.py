"""The webhook flood (issue 11, "done means"): 2,000+ signed deliveries posted to a served
``/webhooks/github`` over loopback by several clients at once, redeliveries and poison
deliveries mixed in, on SQLite and PostgreSQL. Every valid delivery is stored once and
processed once (status ``done`` after one try); every poison one is refused at the door or
fails alone with its reason; the runs and jobs stored are exactly those of the valid ones."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from cimedic.bootstrap import build
from cimedic.interfaces.api.app import create_app
from cimedic.settings import Settings
from cimedic.store import schema as t
from cimedic.store.repository import Store
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.replay_webhooks import webhook_deliveries
from served import ServedApp

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

SECRET = "flood-secret"
COPIES = 5  # the demo's 405 deliveries, five times over with shifted ids: 2,025 valid deliveries
ID_SHIFT = 10_000_000_000
CLIENTS = 8


@dataclass(frozen=True)
class Post:
    event: str
    delivery: str
    body: bytes
    signed: bool = True
    expect: int = 202  # the HTTP status the door must answer
    forged: bool = False  # signed, but the signature is of another body


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def _shifted(event: str, body: bytes, copy: int) -> bytes:
    payload = json.loads(body)
    shift = copy * ID_SHIFT
    if event == "workflow_run":
        payload["workflow_run"]["id"] += shift
        payload["workflow_run"]["check_suite_id"] += shift
    else:
        payload["workflow_job"]["id"] += shift
        payload["workflow_job"]["run_id"] += shift
    return json.dumps(payload).encode()


def _valid_posts() -> tuple[list[Post], set[int], set[int]]:
    history = build_demo_history(now=datetime(2026, 11, 20, tzinfo=UTC))
    posts: list[Post] = []
    runs: set[int] = set()
    jobs: set[int] = set()
    for copy in range(COPIES):
        for d in webhook_deliveries(history):
            body = _shifted(d.event, d.body, copy)
            payload = json.loads(body)
            if d.event == "workflow_run":
                runs.add(payload["workflow_run"]["id"])
            else:
                runs.add(payload["workflow_job"]["run_id"])
                jobs.add(payload["workflow_job"]["id"])
            posts.append(Post(d.event, f"{d.delivery_id}-{copy}", body))
    return posts, runs, jobs


def _poison(valid: list[Post]) -> list[Post]:
    run = next(p for p in valid if p.event == "workflow_run")
    deep = b'{"action": "completed", "workflow_run": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    out = [
        # stored, then failed alone with the reason
        Post("workflow_run", "poison-deep", deep),
        Post("workflow_run", "poison-not-json", b'{"action": "completed", "workflow_run": {'),
        Post("workflow_run", "poison-no-run", b'{"action": "completed"}'),
        Post("workflow_job", "poison-job-list", b"[1, 2, 3]"),
        # refused at the door, nothing stored
        Post("workflow_run", "poison-unsigned", run.body, signed=False, expect=401),
        Post("workflow_run", "x" * 300, run.body, expect=400),
        Post("workflow_run", "poison-huge", b"{" + b" " * (26 * 1024 * 1024) + b"}", expect=413),
    ]
    # a forged copy of a genuine delivery (same id, altered body, the genuine signature): refused,
    # and the genuine one, whenever it arrives, is not shadowed by it
    tampered = [
        Post(
            p.event, p.delivery, p.body.replace(b'"completed"', b'"in_progress"', 1), forged=True, expect=401
        )
        for p in valid[:40:2]
    ]
    return out + tampered


def _send(client: httpx.Client, url: str, post: Post, genuine: dict[str, bytes]) -> tuple[Post, int]:
    headers = {
        "X-GitHub-Event": post.event,
        "X-GitHub-Delivery": post.delivery,
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/flood",
    }
    if post.signed:
        headers["X-Hub-Signature-256"] = _sign(genuine[post.delivery] if post.forged else post.body)
    response = client.post(f"{url}/webhooks/github", content=post.body, headers=headers, timeout=30)
    return post, response.status_code


def test_a_flood_of_signed_deliveries_with_poison_is_processed_exactly_once(store: Store) -> None:
    valid, run_ids, job_ids = _valid_posts()
    assert len(valid) >= 2_000
    poison = _poison(valid)
    redeliveries = random.Random(7).sample(valid, 150)  # GitHub's "Redeliver": same id, same body
    work = valid + redeliveries + poison
    random.Random(11).shuffle(work)
    genuine = {p.delivery: p.body for p in valid}

    app = create_app(build(Settings(github_webhook_secret=SECRET), store=store, llm=None))
    with ServedApp(app) as url:
        clients = [httpx.Client() for _ in range(CLIENTS)]
        try:
            with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
                answers = list(
                    pool.map(
                        lambda i_p: _send(clients[i_p[0] % CLIENTS], url, i_p[1], genuine), enumerate(work)
                    )
                )
        finally:
            for client in clients:
                client.close()
        assert app.state.worker.wait_idle(240)
        worker_errors = list(app.state.worker.errors)

    # a valid delivery id is accepted once (202); its redelivery answers 200, nothing new stored
    accepted: dict[str, list[int]] = {}
    for post, code in answers:
        if post.delivery in genuine and not post.forged:
            accepted.setdefault(post.delivery, []).append(code)
    assert {
        d: sorted(codes) for d, codes in accepted.items() if sorted(codes) not in ([202], [200, 202])
    } == {}
    wrong = [
        (p.delivery[:40], p.expect, code)
        for p, code in answers
        if p.delivery not in genuine or p.forged
        if code != p.expect
    ]
    assert wrong == [], wrong[:10]
    assert worker_errors == []

    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.raw_events.c.key, t.raw_events.c.status, t.raw_events.c.attempts, t.raw_events.c.error)
        ).all()
    by_key = {r.key: r for r in rows}
    assert len(by_key) == len(rows)  # one row per delivery id
    stored_poison = {p.delivery for p in poison if p.expect == 202}
    assert all(p.body != genuine[p.delivery] for p in poison if p.forged)
    assert set(by_key) == {p.delivery for p in valid} | stored_poison
    not_done = [
        (k, r.status, r.error) for k, r in by_key.items() if k not in stored_poison and r.status != "done"
    ]
    assert not_done == []
    # processed once: a delivery that is done took exactly one try
    assert {r.attempts for k, r in by_key.items() if k not in stored_poison} == {1}
    for key in stored_poison:
        assert by_key[key].status == "failed", key
        assert by_key[key].error and key in by_key[key].error

    with store.engine.connect() as conn:
        stored_runs = set(conn.execute(select(t.workflow_runs.c.provider_id)).scalars())
        stored_jobs = set(conn.execute(select(t.jobs.c.provider_id)).scalars())
        job_rows = conn.execute(select(func.count()).select_from(t.jobs)).scalar_one()
    assert stored_runs == {str(i) for i in run_ids}
    assert stored_jobs == {str(i) for i in job_ids}
    assert job_rows == len(job_ids)  # no job stored twice
