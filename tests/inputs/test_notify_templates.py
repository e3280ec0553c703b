"""Notification templates: the bundled ones render every kind, a user folder replaces kinds one by
one, syntax errors name file:line at load time, render errors (unknown variable, sandbox
violation) fall back to the bundled template with a warning, and values are data, never template
source."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cimedic.analysis.notify_policy import build_digest, digest_selection, render
from cimedic.inputs.templates import (
    TEMPLATE_NAMES,
    NotifyTemplates,
    TemplateError,
    bundled_template_path,
    load_templates,
    template_name,
)
from cimedic.model.notify import EventKind, Notification, NotificationEvent, Severity

NOW = datetime(2024, 5, 2, 12, tzinfo=UTC)
RUN = "https://github.com/o/r/actions/runs/42"

CLUSTER = (
    ("cluster_id", "d7c5a8e0aa11bb22"),
    ("short_id", "d7c5a8e0"),
    ("cluster_title", "dependency: go.mod is not tidy"),
    ("category", "dependency"),
    ("representative", "ERROR: go.mod/go.sum are not up-to-date"),
    ("jobs", "lint, unit"),
    ("occurrences", "4"),
    ("total_occurrences", "9"),
    ("first_seen", "2024-05-01T10:00:00Z"),
    ("last_seen", "2024-05-02T11:00:00Z"),
)


def event(kind: str, *, url: str | None = RUN, prs: tuple[int, ...] = ()) -> NotificationEvent:
    """An event of each template kind with the facts :func:`collect_events` gives it."""
    if kind in ("new_cluster", "recurrence"):
        return NotificationEvent(
            kind=EventKind.NEW_CLUSTER, dedup_key=f"{kind}:x", repository="o/r", url=url,
            title="New CI failure: go.mod is not tidy" if kind == "new_cluster" else "Known failure again (4x)",
            occurred_at=NOW, recurrence=kind == "recurrence", pull_requests=prs, facts=CLUSTER,
        )  # fmt: skip
    facts = {
        "health_change": (
            ("old_state", "healthy"), ("new_state", "failing"), ("reason", "latest default-branch run is red"),
            ("failed", "2"), ("runs", "5"), ("failure_rate", "40%"), ("window", "24 h"),
        ),
        "new_flaky_test": (
            ("test", "pkg::test_x"), ("variant", "py3.11"), ("test_name", "pkg::test_x [py3.11]"),
            ("reason", "passed and failed on the same commit"), ("failures", "2"), ("passes", "3"),
            ("commits", "3"), ("executions", "5"), ("flip_rate", "50%"),
        ),
        "action_taken": (
            ("action", "rerun_failed_jobs"), ("run_id", "42"), ("attempt", "1"), ("workflow", "CI"),
            ("branch", "main"), ("reason", "allowed"), ("detail", "network error: re-run allowed"),
            ("result", "error"), ("error", "HTTP 403"),
        ),
    }[kind]  # fmt: skip
    return NotificationEvent(
        kind=EventKind(kind), dedup_key=f"{kind}:x", repository="o/r", url=url, title=f"title of {kind}",
        occurred_at=NOW, pull_requests=prs, facts=facts,
    )  # fmt: skip


def rendered(templates: NotifyTemplates, e: NotificationEvent) -> Notification:
    return render(e, templates.render_event(e))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_names_cover_every_kind() -> None:
    assert set(TEMPLATE_NAMES) == {k.value for k in EventKind} | {"recurrence"}
    for name in TEMPLATE_NAMES:
        assert bundled_template_path(name).is_file()
    assert template_name(event("recurrence")) == "recurrence"
    assert template_name(event("new_cluster")) == "new_cluster"


def test_bundled_templates_render_every_kind(caplog: pytest.LogCaptureFixture) -> None:
    t = load_templates()
    assert t.overrides == {}
    with caplog.at_level(logging.WARNING, logger="cimedic.inputs.templates"):
        new = rendered(t, event("new_cluster"))
        assert new.title == "New CI failure: go.mod is not tidy"
        assert new.body == (
            "New failure cluster **dependency: go.mod is not tidy** (dependency).\n\n"
            "- failing line: `ERROR: go.mod/go.sum are not up-to-date`\n"
            "- jobs: lint, unit\n- occurrences: 4\n\n"
            "Details: `cimedic failures show d7c5a8e0`\n\n"
            f"[Open the run]({RUN})"
        )
        with_prs = rendered(t, event("new_cluster", prs=(12, 15)))
        assert "- occurrences: 4\n- pull requests: #12, #15\n\nDetails:" in with_prs.body
        assert with_prs.pull_requests == (12, 15)
        no_url = rendered(t, event("new_cluster", url=None))
        assert "Open the run" not in no_url.body and no_url.body.endswith("`cimedic failures show d7c5a8e0`")

        again = rendered(t, event("recurrence"))
        assert again.body == (
            f"Recurring failure cluster d7c5a8e0: 4 occurrences since the last pass.\n\n[Open the run]({RUN})"
        )
        health = rendered(t, event("health_change"))
        assert health.body == (
            "latest default-branch run is red. Default branch, last 24 h: 2 red of 5 runs (40%).\n\n"
            f"[Open the run]({RUN})"
        )
        flaky = rendered(t, event("new_flaky_test", url=None))
        assert flaky.body == "passed and failed on the same commit\n\n2 failures and 3 passes over 3 commits."
        action = rendered(t, event("action_taken"))
        assert action.body == (
            f"network error: re-run allowed\n\nResult: error (HTTP 403)\n\n[Open the run]({RUN})"
        )
        for kind in ("health_change", "new_flaky_test", "action_taken", "recurrence"):
            assert RUN in rendered(t, event(kind)).body  # every kind links to its run
            assert "Open the run" not in rendered(t, event(kind, url=None)).body
    assert caplog.records == []  # nothing fell back


def test_bundled_digest_lists_titles_links_and_counts() -> None:
    events = [event("recurrence").model_copy(update={"dedup_key": f"r{i}"}) for i in range(3)]
    events.append(
        NotificationEvent(  # a row queued before templates: no facts, a stored body
            kind=EventKind.NEW_CLUSTER,
            dedup_key="old",
            title="old event",
            body="old body",
            occurred_at=NOW,
            recurrence=True,
        )
    )
    shown, more = digest_selection(events)
    d = build_digest(events, NOW, load_templates().render_digest(shown, more=more))
    assert d.kind is EventKind.DIGEST and d.title == "cimedic digest: 4 events"
    assert d.body.splitlines() == [  # oldest first, then by key
        "- old event",
        f"- Known failure again (4x) (o/r) - [run]({RUN})",
        f"- Known failure again (4x) (o/r) - [run]({RUN})",
        f"- Known failure again (4x) (o/r) - [run]({RUN})",
    ]
    assert d.body == build_digest(events, NOW).body  # the same text as the plain fallback
    counted = load_templates().render_digest(shown[:1], more=7)
    assert counted is not None and counted.rstrip().endswith("- ... and 7 more")


def test_a_user_folder_replaces_one_kind(tmp_path: Path) -> None:
    write(
        tmp_path,
        "new_cluster",
        "title: [CI] {{ cluster_title }} in {{ repository }}\n\n"
        "{{ category | upper }} broke {{ jobs }} ({{ occurrences }}x){% if pull_requests %}, PRs {{ pull_requests }}{% endif %}\n",
    )
    (tmp_path / "notes.txt").write_text("not a template", encoding="utf-8")  # ignored: not *.md
    t = load_templates(tmp_path)
    assert t.overrides == {"new_cluster": tmp_path / "new_cluster.md"}
    n = rendered(t, event("new_cluster", prs=(7,)))
    assert n.title == "[CI] dependency: go.mod is not tidy in o/r"
    # the template has no link: the run's link is appended so no notification lacks it
    assert n.body == f"DEPENDENCY broke lint, unit (4x), PRs #7\n\n[Open the run]({RUN})"
    assert rendered(t, event("health_change")).body == rendered(load_templates(), event("health_change")).body


def test_a_user_template_can_include_the_bundled_one(tmp_path: Path) -> None:
    write(
        tmp_path,
        "health_change",
        '**Heads up, {{ repository }}**\n\n{% include "bundled/health_change.md" %}',
    )
    body = rendered(load_templates(tmp_path), event("health_change")).body
    assert body.startswith("**Heads up, o/r**\n\nlatest default-branch run is red.") and body.endswith(
        f"[Open the run]({RUN})"
    )
    assert body.count(RUN) == 1


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "action_taken", "line one\n{% if detail %}\nno endif\n")
    with pytest.raises(TemplateError) as err:
        load_templates(tmp_path)
    message = str(err.value)
    assert message.startswith(f"notify template {path}:") and "endif" in message
    write(tmp_path, "action_taken", "ok\n{{ detail }\n")
    with pytest.raises(TemplateError, match=rf"^notify template {path}:2: "):
        load_templates(tmp_path)


def test_folder_problems_are_errors(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not a folder"):
        load_templates(tmp_path / "missing")
    write(tmp_path, "new_clusters", "typo in the name")
    with pytest.raises(TemplateError, match=r"new_clusters\.md: unknown template name 'new_clusters'"):
        load_templates(tmp_path)


def test_an_unknown_variable_falls_back_to_the_bundled_template(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "recurrence", "Recurring: {{ cluster_title }}\n{{ no_such_fact }}\n")
    t = load_templates(tmp_path)  # parses: the name is unknown only when rendering
    with caplog.at_level(logging.WARNING, logger="cimedic.inputs.templates"):
        n = rendered(t, event("recurrence"))
    assert n.body == rendered(load_templates(), event("recurrence")).body  # the bundled text, not lost
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert f"{path}:2" in message and "no_such_fact" in message and "bundled recurrence template" in message


def test_the_sandbox_refuses_python_internals(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, "new_flaky_test", "{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    write(tmp_path, "action_taken", "{{ detail.__class__.__init__.__globals__ }}\n")
    t = load_templates(tmp_path)
    with caplog.at_level(logging.WARNING, logger="cimedic.inputs.templates"):
        flaky = rendered(t, event("new_flaky_test"))
        action = rendered(t, event("action_taken"))
    assert "subclasses" not in flaky.body and flaky.body.startswith("passed and failed on the same commit")
    assert "globals" not in action.body and action.body.startswith("network error")
    assert len(caplog.records) == 2
    assert all("SecurityError" in r.getMessage() for r in caplog.records)


def test_values_are_data_never_template_source(tmp_path: Path) -> None:
    write(tmp_path, "new_cluster", "line: {{ raw.representative }}\nescaped: {{ representative }}\n")
    hostile = event("new_cluster").model_copy(
        update={"facts": (*CLUSTER, ("representative", "{{ ''.__class__ }} {% raw %}{{ 7*7 }}"))}
    )
    n = rendered(load_templates(tmp_path), hostile)
    assert n.body.startswith("line: {{ ''.__class__ }} {% raw %}{{ 7*7 }}\n")
    assert "\nescaped: {{ ''.\\_\\_class\\_\\_ }} {% raw %}{{ 7\\*7 }}\n" in n.body  # Markdown-inert


def test_a_failing_bundled_template_still_gives_a_plain_notification(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bare = NotificationEvent(  # too few facts: the bundled template cannot render
        kind=EventKind.HEALTH_CHANGE, dedup_key="h", title="o/r is failing", url=RUN, occurred_at=NOW,
        severity=Severity.CRITICAL, facts=(("reason", "red"),),
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="cimedic.inputs.templates"):
        text = load_templates().render_event(bare)
    assert text is None and caplog.records[0].levelno == logging.ERROR
    n = render(bare, text)
    assert n.title == "o/r is failing" and n.body == f"- reason: red\n\n[Open the run]({RUN})"
