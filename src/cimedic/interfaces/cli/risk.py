"""``cimedic risk``: failure-risk model of runs: ``train``, ``score``, ``show`` (``docs/risk.md``).

Exit status: 0 on success; 1 when there is too little history to train or no model to score
with (the message says why); 2 for bad options, settings or an unusable store.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import typer

from cimedic.interfaces.cli.common import CREATE_HELP, DB_HELP, ListFormat, fail, repo_filter
from cimedic.model.wording import plural

if TYPE_CHECKING:
    from rich.console import Console

    from cimedic.model.risk import FeatureContribution, RiskEvaluation, RiskModelInfo, RiskReport, RiskScore

app = typer.Typer(
    help="Failure risk of runs: a model trained on the stored history scores each run when it starts.",
    no_args_is_help=True,
)

REPO_HELP = (
    "Only this repository (OWNER/NAME or PROVIDER:FULL_NAME); default: every repository (one pooled model)."
)
FORMAT_HELP = "Output format."
METHOD_NAMES = {
    "model": "model",
    "previous_outcome": "previous outcome (baseline)",
    "recent_failure_rate": "recent failure rate (baseline)",
}


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


@app.command("train")
def train(
    repo: str | None = typer.Option(None, "--repo", help=REPO_HELP),
    since: str = typer.Option(
        "90d", "--since", help="Training window start: 30m, 12h, 7d, 2w back from now, or an ISO date (UTC)."
    ),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help=FORMAT_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Train the failure-risk model on the runs created since --since, evaluate it on the
    newest 30% of them against two baselines (time-ordered), refit on all and store it."""
    from cimedic.interfaces.cli.common import context, since_option
    from cimedic.services.risk import RiskTrainingError, train_risk_model

    start = since_option(since)
    app_ctx = context(db, create=create)
    repo = repo_filter(app_ctx, repo)
    try:
        info = train_risk_model(app_ctx.store, repository=repo, since=start)
    except RiskTrainingError as exc:
        fail(str(exc), code=1)
    finally:
        app_ctx.close()
    if output is ListFormat.json:
        _print_json(info.model_dump(mode="json"))
        return
    _print_info(info, title="Trained")


@app.command("score")
def score(
    repo: str | None = typer.Option(None, "--repo", help=REPO_HELP),
    since: str = typer.Option(
        "1d",
        "--since",
        help="Score runs created since: 30m, 12h, 7d, 2w back from now, or an ISO date (UTC).",
    ),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help=FORMAT_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """Score the runs created since --since (running or finished) with the current model,
    store the scores and list them, riskiest first, with the features that weigh most. Exit 1
    when there is no model, or when the current model is unusable (it does not beat its
    baselines: it scores nothing)."""
    from cimedic.interfaces.cli.common import context, since_option
    from cimedic.services.risk import RiskModelMissing, score_runs

    start = since_option(since)
    app_ctx = context(db, create=create)
    repo = repo_filter(app_ctx, repo)
    try:
        scores = score_runs(app_ctx.store, repository=repo, since=start)
    except RiskModelMissing as exc:
        fail(str(exc), code=1)
    except ValueError as exc:
        fail(str(exc))
    finally:
        app_ctx.close()
    if output is ListFormat.json:
        _print_json(
            {
                "model_version": scores[0].model_version if scores else None,
                "since": start.isoformat() if start else None,
                "scores": [x.model_dump(mode="json") for x in scores],
            }
        )
        return
    from rich.console import Console

    console = Console(highlight=False)
    if not scores:
        console.print("No runs in the window.")
        return
    console.print(
        f"[bold]Failure risk[/bold] of {plural(len(scores), 'run')} (model {scores[0].model_version})"
    )
    _print_scores(console, scores)


@app.command("show")
def show(
    repo: str | None = typer.Option(None, "--repo", help=REPO_HELP),
    output: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help=FORMAT_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    create: bool = typer.Option(False, "--create", help=CREATE_HELP),
) -> None:
    """The current model: version, whether it is usable (it beats its baselines) and why not,
    training window, estimator, its evaluation against the baselines, the most important
    features, and the riskiest runs it scored in the last 7 days (by their provider run id)."""
    from cimedic.interfaces.cli.common import context
    from cimedic.services.risk import risk_report

    app_ctx = context(db, create=create)
    repo = repo_filter(app_ctx, repo)
    try:
        report = risk_report(app_ctx.store, repo)
    except ValueError as exc:
        fail(str(exc))
    finally:
        app_ctx.close()
    if output is ListFormat.json:
        _print_json(report.model_dump(mode="json"))
        return
    _print_report(report)


# ---------------------------------------------------------------------------------------- text


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _day(value: object) -> str:
    from datetime import datetime

    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else "-"


def feature_text(f: FeatureContribution) -> str:
    """``name=value (+0.52)``: the feature, its value and its contribution in log-odds."""
    value = "missing" if f.value is None else f"{f.value:.3g}"
    return f"{f.name}={value} ({f.contribution:+.2f})"


def _print_evaluation(console: Console, ev: RiskEvaluation | None) -> None:
    from rich.markup import escape
    from rich.table import Table

    if ev is None:
        console.print("No evaluation (too few runs to hold any out).")
        return
    t = Table(
        "scorer",
        "ROC AUC",
        "95% CI",
        "precision@top10%",
        title=(
            f"Evaluation on the newest {plural(ev.n_samples, 'run')} ({_day(ev.start)} .. {_day(ev.end)} UTC), "
            f"{ev.n_failures} failed"
        ),
        title_justify="left",
    )
    for m in ev.methods:
        ci = "-" if m.auc.ci_low is None else f"{m.auc.ci_low:.2f} .. {m.auc.ci_high:.2f}"
        t.add_row(METHOD_NAMES.get(m.method, m.method), _num(m.auc.auc), ci, _num(m.precision_at_10, 2))
    console.print(t)
    if ev.note:
        console.print(f"[yellow]note:[/yellow] {escape(ev.note)}")


def _print_info(info: RiskModelInfo, title: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    scope = info.repository or "every repository"
    state = "" if info.usable else " [bold red]UNUSABLE[/bold red]"
    console.print(f"[bold]{title} risk model[/bold] {info.version} ({escape(scope)}){state}")
    if not info.usable:
        console.print(
            f"  [red]unusable:[/red] {escape(info.unusable_reason or 'it does not beat its baselines')}; "
            "it is kept but scores no run"
        )
    console.print(
        f"  trained {_day(info.trained_at)} UTC on {plural(info.n_samples, 'run')} ({info.n_failures} failed) "
        f"created {_day(info.window_start)} .. {_day(info.window_end)} UTC"
    )
    cands = ", ".join(f"{c.estimator} {_num(c.auc)}" for c in info.candidates)
    console.print(f"  estimator {info.estimator} (validation AUC: {cands}); {info.library or ''}")
    _print_evaluation(console, info.evaluation)
    useful = [i for i in info.importances if i.importance > 0][:5]
    if useful:
        console.print(
            "Most important features (AUC drop when shuffled): "
            + ", ".join(f"{i.name} {i.importance:.3f}" for i in useful)
        )


def _print_scores(console: Console, scores: list[RiskScore] | tuple[RiskScore, ...]) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table("run", "created (UTC)", "workflow", "branch", "outcome", "risk", "top features")
    for x in scores:
        outcome = x.status or "-"
        if x.failed is not None:
            outcome = "failed" if x.failed else "passed"
        t.add_row(
            x.run_provider_id or "-",
            _day(x.created_at),
            escape(x.workflow or "-"),
            escape(x.branch or "-"),
            outcome,
            f"{x.probability * 100:.0f}%",
            escape("; ".join(feature_text(f) for f in x.top_features)),
        )
    console.print(t)


def _print_report(report: RiskReport) -> None:
    from rich.console import Console

    if report.model is None:
        Console(highlight=False).print("No risk model trained yet: run 'cimedic risk train'.")
        return
    _print_info(report.model, title="Current")
    console = Console(highlight=False)
    if not report.model.usable:
        console.print(
            "No run is scored with an unusable model (retrain with more history: 'cimedic risk train')."
        )
    elif report.top:
        console.print(
            f"Riskiest of the {plural(report.scored_runs, 'run')} scored since {_day(report.since)} UTC:"
        )
        _print_scores(console, report.top)
    else:
        console.print(f"No runs scored since {_day(report.since)} UTC (run 'cimedic risk score').")
