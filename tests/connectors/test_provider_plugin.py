"""Adding a CI provider needs no central edit: a tiny provider, installed as a distribution
whose ``entry_points.txt`` registers it in ``cimedic.providers``, is found by the registry, takes
``PROVIDER:FULL_NAME`` arguments (with more than two path parts) and is synced through the same
code as GitHub; a broken plug-in next to it is reported and skipped, never fatal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

TOY = '''
from datetime import UTC, datetime, timedelta
from pydantic import BaseModel
from cimedic.model import Conclusion, Job, Repository, RunAttempt, Status, Step, WorkflowRun
from cimedic.model.providers import Delivery, PollResult, ProviderError, WebhookRejected

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class ToyConfig(BaseModel):
    token: str | None = None


def _run(n, full_name):
    ok = n % 3 != 0
    return WorkflowRun(
        provider_id=str(n), repository=full_name, workflow_name="pipeline", run_attempt=1,
        branch="main", head_sha=f"{n:040x}", status=Status.COMPLETED,
        conclusion=Conclusion.SUCCESS if ok else Conclusion.FAILURE,
        created_at=T0 + timedelta(hours=n), run_started_at=T0 + timedelta(hours=n),
        updated_at=T0 + timedelta(hours=n, minutes=5),
    )


class ToyClient:
    id = "toy"
    requests = 0

    def get_repository(self, full_name):
        owner, _, name = full_name.rpartition("/")
        return Repository(provider="toy", owner=owner, name=name, default_branch="main")

    def list_workflows(self, full_name):
        return []

    def list_runs(self, full_name, *, created_from, created_to, workflow=None, on_window=None):
        return iter([_run(n, full_name) for n in range(1, 7)])

    def poll_runs(self, full_name):
        return PollResult(changed=False)

    def list_jobs(self, full_name, run_id):
        run = _run(int(run_id), full_name)
        return [Job(provider_id=f"{run_id}01", run_provider_id=run_id, run_attempt=1, name="build",
                    status=Status.COMPLETED, conclusion=run.conclusion,
                    started_at=run.run_started_at, completed_at=run.updated_at,
                    steps=(Step(number=1, name="make", status=Status.COMPLETED, conclusion=run.conclusion),))]

    def run_attempts(self, run, jobs):
        return (RunAttempt(run_provider_id=run.provider_id, attempt=1, status=run.status,
                           conclusion=run.conclusion, started_at=run.run_started_at,
                           updated_at=run.updated_at),)

    def download_job_log(self, full_name, job_id, max_bytes=None):
        raise ProviderError(404, f"toy://{full_name}/{job_id}", "no logs in a toy", provider="toy")

    def list_repo_artifacts(self, full_name, since=None):
        return []

    def download_artifact(self, full_name, artifact_id):
        raise ProviderError(404, "toy://", "none", provider="toy")

    def rerun_failed_jobs(self, full_name, run_id):
        raise ProviderError(403, "toy://", "toys do not re-run", provider="toy")

    def compare_commits(self, full_name, base, head):
        return []

    def pulls_for_commit(self, full_name, sha):
        return []


class ToyWebhooks:
    provider = "toy"
    handled_events = frozenset({"pipeline"})

    def verify(self, headers, body):
        raise WebhookRejected(503, "toy webhooks are not configured")

    def parse(self, event, body):
        raise ValueError("no toy webhooks")


class ToyPlugin:
    id = "toy"
    name = "Toy CI"
    config_model = ToyConfig

    def configured(self, config):
        return True

    def check_full_name(self, full_name):
        pass

    def create(self, config, *, etags=None, transport=None):
        return ToyClient()

    def webhook_receiver(self, config):
        return ToyWebhooks()

    def hint(self, error, config):
        return "toys have no hints"


plugin = ToyPlugin()
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "toy_provider.py").write_text(TOY, encoding="utf-8")
    info = root / "cimedic_toy_provider-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cimedic-toy-provider\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[cimedic.providers]\ntoy = toy_provider:plugin\nbroken = toy_provider:no_such_object\n", encoding="utf-8"
    )
    return root


def _cimedic(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    env["CIMEDIC_CONFIG"] = os.devnull
    env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-m", "cimedic.interfaces.cli.app", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )


def test_a_provider_registered_through_an_entry_point_is_synced(site: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "toy.db")
    synced = _cimedic(site, "sync", "toy:group/sub/project", "--since", "2026-01-01", "--db", db, "--create", "-f", "json")
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout[: synced.stdout.rindex("}") + 1])
    assert report["repository"] == "group/sub/project"
    assert report["runs_ingested"] == 6 and report["jobs"] == 6
    # the broken plug-in beside it is reported once and skipped; the command still worked
    assert "cimedic.providers plug-in 'broken' skipped" in synced.stderr

    stats = _cimedic(site, "stats", "--repo", "toy:group/sub/project", "--since", "2026-01-01", "--db", db, "-f", "json")
    assert stats.returncode == 0, stats.stderr
    runs = json.loads(stats.stdout)["runs"]
    assert (runs["total"], runs["failed"]) == (6, 2)

    unknown = _cimedic(site, "sync", "nope:group/project", "--db", db)
    assert unknown.returncode == 2
    assert "unknown provider 'nope'; registered: github, toy" in unknown.stderr


def test_without_the_distribution_the_provider_is_unknown(tmp_path: Path) -> None:
    result = _cimedic(tmp_path, "sync", "toy:group/project", "--db", str(tmp_path / "x.db"), "--create")
    assert result.returncode == 2
    assert "unknown provider 'toy'; registered: github" in result.stderr
