"""``cimedic actions`` (the remediation audit) and ``cimedic heal`` (one self-healing pass);
see ``docs/remediation.md``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import (
    CREATE_HELP,
    DB_HELP,
    REPO_HELP,
    ListFormat,
    context,
    repo_filter,
    since_option,
)

if TYPE_CHECKING:
    from cimedic.model.remediation import Decision


def _print(decisions: list[Decision], output: ListFormat, empty: str) -> None:
    if output is ListFormat.json:
        sys.stdout.write(
            json.dumps([d.model_dump(mode="json") for d in decisions], ensure_ascii=False) + "\n"
        )
        return
    if not decisions:
        typer.echo(empty)
        return
    for d in decisions:
        when = d.decided_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        result = f" [{d.result}{': ' + d.error if d.error else ''}]" if d.result else ""
        typer.echo(
            f"{when}  {d.repository} run {d.run_id} attempt {d.run_attempt}  {d.verdict.value}: "
            f"{d.reason.value}{result}  ({d.workflow_name or '-'} @ {d.branch or '-'}) {d.detail}"
        )


def actions(
    since: str = typer.Option(
        "7d", "--since", help="Window start: 12h, 7d, 2w back from now, or an ISO date (UTC)."
    ),
    repo: str | None = typer.Option(None, "--repo", help="Only this repository. " + REPO_HELP),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """The audit of self-healing decisions (taken or not, and why), newest first.

    Exit status 0; 2 when the options, the settings or the store are unusable.
    """
    from cimedic.services.remediate import list_actions

    window = since_option(since)
    ctx = context(db, create=create)
    try:
        decisions = list_actions(ctx.store, since=window, repository=repo_filter(ctx, repo))
    finally:
        ctx.close()
    _print(decisions, output, "no decisions recorded in this window")


def heal(
    repo: str | None = typer.Option(None, "--repo", help="Only this repository. " + REPO_HELP),
    apply: bool = typer.Option(
        False, "--apply", help="Really re-run (only when the policy also says dry_run: false)."
    ),
    policy_file: Path | None = typer.Option(
        None,
        "--policy",
        help="Re-run policy YAML (default: the remediation_policy setting, else the bundled dry-run policy).",
    ),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="Output format."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """One self-healing pass: decide, for each run whose latest attempt failed, whether to
    re-run its failed jobs; record every decision; re-run only with --apply AND a policy
    with dry_run: false (the double lock). Prints the decisions this pass made or changed.

    Exit status 0; 2 when the options, the policy, the settings or the store are unusable.
    """
    from datetime import UTC, datetime

    from cimedic.bootstrap.wiring import policy_from
    from cimedic.services.remediate import heal as heal_pass

    ctx = context(db, create=create)
    policy = policy_from(policy_file) if policy_file is not None else ctx.rerun_policy
    try:
        action = ctx.provider("github") if apply and not policy.dry_run else None
        decisions = heal_pass(
            ctx.store, policy, action, now=datetime.now(UTC), apply=apply, repository=repo_filter(ctx, repo)
        )
    finally:
        ctx.close()
    if not apply or policy.dry_run:
        typer.echo("cimedic: dry run (re-runs need --apply and dry_run: false in the policy)", err=True)
    _print(decisions, output, "nothing new to decide")
