"""The GitHub transport's rate-limit gate over real loopback HTTP: nothing is sent while the
primary limit is exhausted, whatever the local clock says.

The server is the GitHub replay (``cimedic.testing.github_replay``) served on 127.0.0.1: its
answers carry GitHub's ``Date`` and ``X-RateLimit-Limit/Remaining/Used/Reset/Resource``
headers (``core``), and past the limit it answers 403 "API rate limit exceeded" until
``X-RateLimit-Reset`` (epoch seconds, its own clock). Time is simulated: the server and the
client read one shared fake time, the client's clock skewed by ``skew`` seconds (the skew of the
reported incident was an hour), and the client's ``sleep`` advances the shared time. The
server slows each answer by a few real milliseconds so that requests of a thread pool really
overlap. Rule under test (GitHub docs, "Rate limits for the REST API"): "you should not try
your request until after the time specified by the ``x-ratelimit-reset`` header".
"""

from __future__ import annotations

import email.utils
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cimedic.connectors.github_actions.auth import TokenAuth
from cimedic.connectors.github_actions.client import GitHubClient
from cimedic.connectors.github_actions.http import RateLimitError
from cimedic.testing.demo_history import build_demo_history
from cimedic.testing.github_replay import SECONDARY_RATE_LIMIT, GitHubReplay

pytestmark = pytest.mark.timeout(120)

TOKEN = "ghp_" + "ratelimit0" * 4
START = 1_780_000_000.0  # 2026-05-28T20:26:40Z, the server's clock at the start
HOUR = 3600.0


class FakeTime:
    """One simulated time line: ``server()`` is the server's clock, ``client()`` the client's
    (``skew`` seconds off); ``sleep`` (the client's) advances both, after 50 real ms."""

    def __init__(self, skew: float) -> None:
        self.now = START
        self.skew = skew
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def server(self) -> float:
        with self._lock:
            return self.now

    def client(self) -> float:
        with self._lock:
            return self.now + self.skew

    def sleep(self, seconds: float) -> None:
        time.sleep(0.05)  # a little real time, in which other threads could send
        with self._lock:
            self.waits.append(seconds)
            self.now += seconds


class SlowReplay(GitHubReplay):
    """The replay, answering after a few real milliseconds, recording the server time of every
    request; ``send_date=False`` leaves the ``Date`` header out."""

    def __init__(self, *args: Any, send_date: bool = True, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.send_date = send_date
        self.received: list[tuple[float, str, int]] = []  # (server time, path, status)

    def respond(self, request: httpx.Request, api: str, blob: str) -> httpx.Response:
        time.sleep(0.003)
        return super().respond(request, api, blob)

    def _answer(self, request: httpx.Request, api: str, blob: str) -> Any:  # under the replay's lock
        answer = super()._answer(request, api, blob)
        self.received.append((self.clock(), request.url.path, answer.status))
        return answer

    def _headers(self, request: httpx.Request) -> list[tuple[str, str]]:
        headers = super()._headers(request)
        return headers if self.send_date else [(k, v) for k, v in headers if k.lower() != "date"]

    def exhausted_answers(self) -> int:
        """Requests answered 403 "API rate limit exceeded" (sent while the limit was spent)."""
        return sum(1 for _t, _p, status in self.received if status == 403)


def replay_for(fake: FakeTime, limit: int, *, send_date: bool = True) -> tuple[SlowReplay, list[int]]:
    """The demo history's replay allowing ``limit`` requests per hour, and its job ids. Its first
    window resets at ``START + 1 h`` (server time)."""
    history = build_demo_history(now=datetime.fromtimestamp(START, UTC))
    replay = SlowReplay(history, token=TOKEN, rate_limit=limit, clock=fake.server, send_date=send_date)
    return replay, [j.id for j in history.jobs]


def client_for(url: str, fake: FakeTime, **kw: Any) -> GitHubClient:
    return GitHubClient(
        httpx.Client(timeout=30.0),
        base_url=url,
        auth=TokenAuth(TOKEN),
        sleep=fake.sleep,
        clock=fake.client,
        **kw,
    )


REPO = "hashicorp-demo/terraform"


@pytest.mark.parametrize("skew", [HOUR, -HOUR, 0.0], ids=["clock-ahead-1h", "clock-behind-1h", "no-skew"])
def test_nothing_is_sent_while_exhausted_whatever_the_local_clock(skew: float) -> None:
    fake = FakeTime(skew)
    replay, job_ids = replay_for(fake, limit=20)
    with replay.serve() as served:
        client = client_for(served.url, fake, max_wait=2 * HOUR)
        jobs = [client.get_job(REPO, i) for i in job_ids[:50]]
    assert [j.provider_id for j in jobs] == [str(i) for i in job_ids[:50]]
    assert replay.exhausted_answers() == 0, replay.received  # not one request while exhausted
    assert len(replay.received) == 50  # no request lost to a retry
    # the first wait ends 1 s after the reset, in the server's clock, whatever the skew
    assert fake.waits[0] == pytest.approx(HOUR + 1.0, abs=1.0)
    waited_at = [t for t, _p, _s in replay.received]
    assert waited_at[20] >= START + HOUR + 1.0 and waited_at[19] < START + HOUR  # request 21 after the reset


@pytest.mark.parametrize("skew", [HOUR, -HOUR], ids=["clock-ahead-1h", "clock-behind-1h"])
def test_a_wait_beyond_max_wait_raises_before_sending(skew: float) -> None:
    fake = FakeTime(skew)
    replay, job_ids = replay_for(fake, limit=5)
    with replay.serve() as served:
        client = client_for(served.url, fake, max_wait=900.0)
        for i in job_ids[:5]:
            client.get_job(REPO, i)
        with pytest.raises(RateLimitError) as info:
            client.get_job(REPO, job_ids[5])
        with pytest.raises(RateLimitError):  # and again: still nothing sent
            client.get_job(REPO, job_ids[6])
    until = datetime.fromtimestamp(START + HOUR + 1, UTC).strftime("%H:%M:%S UTC")
    assert f"rate limit exhausted until {until}" in str(info.value)
    assert info.value.wait == pytest.approx(HOUR + 1.0, abs=1.0)  # the server's hour, not 0 s or 2 h
    assert len(replay.received) == 5 and replay.exhausted_answers() == 0
    assert fake.waits == []


@pytest.mark.parametrize("workers", [4, 8])
def test_a_thread_pool_does_not_slip_through(workers: int) -> None:
    fake = FakeTime(HOUR)
    replay, job_ids = replay_for(fake, limit=25)
    with replay.serve() as served:
        client = client_for(served.url, fake, max_wait=2 * HOUR)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = list(pool.map(lambda i: client.get_job(REPO, i), job_ids[:80]))
    assert len(jobs) == 80
    assert replay.exhausted_answers() == 0, [s for _t, _p, s in replay.received]
    assert len(replay.received) == 80  # no retry either


def test_retry_after_pauses_every_thread() -> None:
    fake = FakeTime(-HOUR)
    replay, job_ids = replay_for(fake, limit=5000)
    replay.inject(r"/actions/jobs/", 403, headers={"Retry-After": "30"}, body=SECONDARY_RATE_LIMIT, times=1)
    with replay.serve() as served:
        client = client_for(served.url, fake)
        with ThreadPoolExecutor(max_workers=4) as pool:
            jobs = list(pool.map(lambda i: client.get_job(REPO, i), job_ids[:40]))
    assert len(jobs) == 40
    (at,) = [i for i, (_t, _p, s) in enumerate(replay.received) if s == 403]
    limited_at = replay.received[at][0]
    during = [t for t, _p, _s in replay.received[at + 1 :] if t < limited_at + 30.0]
    assert len(during) <= 3  # only requests already in flight: no thread sent during the 30 s
    assert 30.0 in fake.waits
    assert len(replay.received) == 41  # 40 jobs and the one refused


def test_without_a_date_header_the_local_clock_is_used() -> None:
    fake = FakeTime(-600.0)  # 10 minutes behind, and the server sends no Date
    replay, job_ids = replay_for(fake, limit=3, send_date=False)
    with replay.serve() as served:
        client = client_for(served.url, fake, max_wait=2 * HOUR)
        for i in job_ids[:4]:
            client.get_job(REPO, i)
    assert "date" not in {k.lower() for k, _v in replay._headers(httpx.Request("GET", "http://x/"))}
    # the wait is measured on the local clock: 10 minutes longer than the server's time to reset
    assert fake.waits[0] == pytest.approx(HOUR + 600.0 + 1.0, abs=0.01)
    assert replay.exhausted_answers() == 0 and len(replay.received) == 4


def test_the_server_date_is_read_as_an_http_date() -> None:
    fake = FakeTime(HOUR)
    replay, job_ids = replay_for(fake, limit=100)
    with replay.serve() as served:
        client = client_for(served.url, fake)
        client.get_job(REPO, job_ids[0])
        sent = httpx.get(f"{served.url}/rate_limit").headers["date"]
    assert email.utils.parsedate_to_datetime(sent).timestamp() == START
    assert client._t.server_now() == pytest.approx(START, abs=1.0)  # not the local START + 1 h


def test_a_token_spent_elsewhere_costs_one_refused_request_then_waits_for_the_reset() -> None:
    fake = FakeTime(HOUR)  # the clock that made the client retry every second for an hour
    replay, job_ids = replay_for(fake, limit=10)
    replay._used = 10  # another client of the same token spent the hour's requests
    with replay.serve() as served:
        client = client_for(served.url, fake, max_wait=2 * HOUR)
        with ThreadPoolExecutor(max_workers=4) as pool:
            jobs = list(pool.map(lambda i: client.get_job(REPO, i), job_ids[:8]))
    assert len(jobs) == 8
    # the first answers (sent before anything was known) are refused, nothing after them
    refused = [i for i, (_t, _p, s) in enumerate(replay.received) if s == 403]
    assert 1 <= len(refused) <= 4 and refused == list(range(len(refused)))
    assert min(t for t, _p, s in replay.received if s == 200) >= START + HOUR + 1.0


def test_an_issue_is_not_posted_while_exhausted() -> None:
    fake = FakeTime(HOUR)
    replay, job_ids = replay_for(fake, limit=1)
    with replay.serve() as served:
        client = client_for(served.url, fake)
        client.get_job(REPO, job_ids[0])  # the hour's last request: remaining 0
        with pytest.raises(RateLimitError, match="rate limit exhausted until"):
            client.create_issue(REPO, "CI: Build for linux_arm64 fails", "body")
    assert [p for _t, p, _s in replay.received] == [f"/repos/{REPO}/actions/jobs/{job_ids[0]}"]
    assert replay.issues == []
