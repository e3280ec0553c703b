"""``cimedic report daily|weekly`` and ``cimedic notify`` (see ``docs/reports.md``,
``docs/notifications.md``)."""

from __future__ import annotations

import sys
from enum import StrEnum

import typer

from cimedic.interfaces.cli.common import CREATE_HELP, DB_HELP, REPO_HELP, context, fail, repo_filter


class ReportPeriod(StrEnum):
    daily = "daily"
    weekly = "weekly"


class ReportFormat(StrEnum):
    markdown = "markdown"
    html = "html"


def report(
    period: ReportPeriod = typer.Argument(..., help="daily (last 24 h) or weekly (last 7 days)."),
    repo: str | None = typer.Option(None, "--repo", help="Only this repository. " + REPO_HELP),
    output: ReportFormat = typer.Option(
        ReportFormat.markdown, "--format", "-f", help="markdown or html (with charts)."
    ),
    out: str | None = typer.Option(None, "--out", help="Write the report to this file instead of stdout."),
    narrative: bool = typer.Option(
        False, "--narrative/--no-narrative", help="Add a grounded LLM narrative (needs llm_base_url)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """The daily or weekly report: successes and failures, failure clusters, flaky tests,
    durations and queue times against the previous period, anomalies, actions, health.

    Exit status 0; 2 when the options, the settings or the store are unusable.
    """
    from pathlib import Path

    from cimedic.services.reports import build_report, render_html, render_markdown

    ctx = context(db, create=create)
    try:
        result = build_report(
            ctx.store,
            period.value,
            repo=repo_filter(ctx, repo),
            deployment_patterns=ctx.deployment_patterns(),
            thresholds=ctx.health_thresholds,
            web_base=ctx.web_base,
        )
    finally:
        ctx.close()
    if narrative:
        llm = ctx.llm
        if llm is None:
            fail("--narrative needs an LLM: set llm_base_url (CIMEDIC_LLM_BASE_URL)")
        from cimedic.agent.narrative import grounded_narrative

        told = grounded_narrative(result, llm)
        result = result.model_copy(update={"narrative": told.text, "narrative_note": told.reason})
        if told.text is None:
            typer.echo(f"cimedic: narrative dropped: {told.reason}", err=True)
    text = render_html(result) if output is ReportFormat.html else render_markdown(result)
    if out:
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {out}: {exc}")
        return
    sys.stdout.write(text)


def notify(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be sent; send and record nothing."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """One notification pass: new failure clusters, health changes, new flaky tests and actions
    since the last pass go to the notify_urls (and GitHub issues / pull request comments when
    notify_github_issues / notify_github_pr_comments);
    repeats of known failures go to a daily digest; quiet hours hold all but critical events.

    Texts come from Markdown templates (the notify_templates_dir setting overrides them).

    Exit status 0; 1 when a delivery failed; 2 when the settings, a template or the store are
    unusable.
    """
    from cimedic.services.notify import notify_pending

    ctx = context(db, create=create)
    quiet, templates = ctx.quiet_hours, ctx.notify_templates
    notifiers = [] if dry_run else ctx.notifiers
    if not dry_run and not notifiers:
        fail(
            "nothing to notify: set notify_urls, notify_github_issues or notify_github_pr_comments "
            "(or use --dry-run)"
        )
    try:
        outcome = notify_pending(
            ctx.store,
            notifiers,
            quiet=quiet,
            dry_run=dry_run,
            thresholds=ctx.health_thresholds,
            templates=templates,
            web_base=ctx.web_base,
        )
    finally:
        ctx.close()
    for n in outcome.notifications:
        typer.echo(f"[{n.severity.value}] {n.title}" + (f" <{n.url}>" if n.url else ""))
    verb = "would send" if dry_run else "sent"
    typer.echo(
        f"{outcome.events} events: {verb} {len(outcome.notifications) if dry_run else outcome.sent}, "
        f"{outcome.queued} queued for the digest, {outcome.skipped} already known, {outcome.failed} failed"
    )
    if outcome.failed:
        raise typer.Exit(1)
