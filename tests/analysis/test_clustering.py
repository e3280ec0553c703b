"""Failure clustering: normalisation rules, near-duplicate merge and non-merge, determinism,
trend, impact (pure functions, no store).

The failure lines are primary error lines the engine picks in real logs: LogChunks (MSR'20,
CC BY 4.0; repository named per line) and CiDiff (ISSTA'25, Apache-2.0; hashicorp/terraform
"Quick Checks" / "Build Terraform CLI Packages").
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

import pytest
from rapidfuzz.distance import Levenshtein

from cimedic.analysis.cluster_text import (
    edit_limit,
    length_window,
    near_duplicate_distance,
    ngram_counts,
    ngram_lower_bound,
    normalise,
)
from cimedic.analysis.clustering import (
    TITLE_CHARS,
    ClusterIndex,
    cluster_failures,
    cluster_id,
    cluster_title,
    exact_signature,
    impact,
    rank,
    summarize_cluster,
    trend,
)
from cimedic.analysis.diagnosis.text import mask
from cimedic.model.clusters import ClusterMember, FailureRecord, MatchKind, StoredCluster, Trend

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)

# hashicorp/terraform (CiDiff breakages_dump/quick-checks)
GO_MOD = "ERROR: go.mod/go.sum are not up-to-date. Run 'go mod tidy' and then commit the updated files."
STATICCHECK = (
    "##[error]internal/lang/functions.go:176:17: func (*Scope).experimentalFunction is unused (U1000)"
)
GO_FAIL_A = "--- FAIL: TestRemote_applyBasic (0.00s)"
GO_FAIL_B = "--- FAIL: TestCloud_configWithEnvVars (0.00s)"
# hashicorp/terraform (CiDiff breakages_dump/build-terraform-cli-packages/run452)
PROXY_RESET = (
    "##[error]../../../go/pkg/mod/k8s.io/client-go@v0.23.4/dynamic/interface.go:26:2: k8s.io/apimachinery@v0.23.4: "
    'Get "https://proxy.golang.org/k8s.io/apimachinery/@v/v0.23.4.zip": read tcp 10.1.0.82:52774->74.125.124.141:443: '
    "read: connection reset by peer"
)
# neovim/neovim (LogChunks): PIDs, addresses and stack pointers differ per run
ASAN_1 = (
    "= ==16563==ERROR: AddressSanitizer: SEGV on unknown address 0x000001d548d0 "
    "(pc 0x000000455084 bp 0x000000000000 sp 0x7ffc53357450 T0)"
)
ASAN_2 = (
    "= ==16549==ERROR: AddressSanitizer: SEGV on unknown address 0x000001d741d0 "
    "(pc 0x000000455234 bp 0x000000000000 sp 0x7fff2c221390 T0)"
)
# Atom/atom (LogChunks): timeouts configured per test
MOCHA_60 = "     Error: timeout of 60000ms exceeded. Ensure the done() callback is being called in this test."
MOCHA_2 = "     Error: timeout of 2000ms exceeded. Ensure the done() callback is being called in this test."
# ReactiveCocoa/ReactiveCocoa (LogChunks)
XCTEST_1 = "\t Executed 5 tests, with 1 failure (0 unexpected) in 1.310 (1.314) seconds"
XCTEST_2 = "\t Executed 5 tests, with 2 failures (0 unexpected) in 2.316 (2.320) seconds"
# ReactiveX/RxJava (LogChunks)
RX_OBS = "io.reactivex.internal.operators.observable.ObservableRefCountTest > publishNoLeak FAILED"
RX_OBS_ALT = "io.reactivex.internal.operators.observable.ObservableRefCountAltTest > publishNoLeak FAILED"
RX_FLOW = "io.reactivex.internal.operators.flowable.FlowableRefCountTest > publishNoLeak FAILED"
# h4cc/awesome-elixir (LogChunks): the same entry, capitalised differently
ELIXIR_A = (
    "** (RuntimeError) Line does not match format: '[runhyve](https://runhyve.app) - The Virtual Machines "
    "Manager for Bhyve on FreeBSD' Is there a dot at the end?"
)
ELIXIR_B = (
    "** (RuntimeError) Line does not match format: '[Runhyve](https://runhyve.app) - The virtual machines "
    "manager for bhyve on FreeBSD' Is there a dot at the end?"
)
# postcss/autoprefixer (LogChunks)
SIZE_B = "  Package size limit has exceeded by 934 B"
SIZE_KB = "  Package size limit has exceeded by 4.72 KB"
# php/php-src (LogChunks): two different failing tests
PHP_A = "FAIL Bug#71412 ArrayIterator reflection parameter info [ext/spl/tests/bug71412.phpt]"
PHP_B = "FAIL FPM: bug77934 - php-fpm kill -USR2 not working [sapi/fpm/tests/bug77934-reload-process-control.phpt]"


def sig(text: str) -> str:
    """The engine's signature of a primary line (engine.py)."""
    return hashlib.sha256(mask(text.strip()).encode("utf-8")).hexdigest()[:32]


def rec(
    job_id: int,
    summary: str,
    *,
    category: str = "test",
    signature: str | None = None,
    when: datetime | None = None,
    repo: str = "octo/app",
    job: str = "build",
    run_id: int | None = None,
    transient: bool = False,
) -> FailureRecord:
    return FailureRecord(
        job_id=job_id,
        run_id=run_id if run_id is not None else job_id,
        run_provider_id=str(1000 + job_id),
        run_attempt=1,
        repository=repo,
        workflow="CI",
        job_name=job,
        branch="main",
        created_at=when if when is not None else NOW - timedelta(hours=100 - job_id),
        category=category,
        signature=signature if signature is not None else sig(summary),
        summary=summary,
        transient=transient,
    )


# ----------------------------------------------------------------------------- normalisation
def test_normalise_drops_annotation_prefix_and_masks_positions() -> None:
    assert (
        normalise(STATICCHECK)
        == "internal/lang/functions.go:N:N: func (*Scope).experimentalFunction is unused (UN)"
    )
    assert normalise("::error file=main.go,line=3::boom 42") == "boom N"


def test_normalise_masks_what_changes_between_runs() -> None:
    assert normalise(ASAN_1) == normalise(ASAN_2)
    assert normalise(MOCHA_60) == normalise(MOCHA_2)
    assert "QUERY" not in normalise(PROXY_RESET)  # no query string here
    assert normalise(PROXY_RESET).endswith("read tcp IP->IP: read: connection reset by peer")


def test_normalise_kubernetes_rules_dates_and_go_maps() -> None:
    a = "lease expired at Mon, 02 Jan 2006 15:04:05 -0700 for map[zone:b node:n2 pod:p1]"
    b = "lease expired at Tue, 17 Mar 2026 09:11:45 +0000 for map[pod:p1 node:n2 zone:b]"
    assert normalise(a) == normalise(b)
    assert "TIME" in normalise(a) and "map[node:nN pod:pN zone:b]" in normalise(a)
    assert normalise("syslog: Jan  2 15:04:05 runner oom") == normalise("syslog: Mar 19 01:00:59 runner oom")


def test_normalise_replaces_url_query_strings() -> None:
    signed = (
        'Get "https://storage.googleapis.com/proxy-golang-org-prod/4d5e-aliyun?Expires=1651146086'
        '&GoogleAccessId=gcs-urlsigner&Signature=j7oUivubkR4mCA%2FdCBnZTA62J7m4q": net/http: TLS handshake timeout'
    )
    other = signed.replace("1651146086", "1651229999").replace("j7oUivubkR4mCA%2FdCBnZTA62J7m4q", "Zx%2F0")
    assert normalise(signed) == normalise(other)
    assert "?QUERY" in normalise(signed)


def test_normalise_is_bounded_and_total() -> None:
    assert normalise("") == ""
    assert normalise("   ") == ""
    assert len(normalise("x" * 50_000)) == 10_000


# ----------------------------------------------------------------------------- near-duplicates
@pytest.mark.parametrize(
    ("a", "b"),
    [(XCTEST_1, XCTEST_2), (RX_OBS, RX_OBS_ALT), (ELIXIR_A, ELIXIR_B)],
    ids=["xctest-counts", "rxjava-alt-test", "elixir-case"],
)
def test_near_duplicates_merge(a: str, b: str) -> None:
    na, nb = normalise(a), normalise(b)
    assert na != nb
    dist = near_duplicate_distance(na, nb)
    assert dist is not None and 0 < dist < edit_limit(len(na), len(nb))


@pytest.mark.parametrize(
    ("a", "b"),
    [(GO_FAIL_A, GO_FAIL_B), (PHP_A, PHP_B), (RX_OBS, RX_FLOW), (GO_MOD, STATICCHECK), (SIZE_B, SIZE_KB)],
    ids=["go-tests", "php-tests", "rxjava-flowable", "unrelated", "size-units-at-the-limit"],
)
def test_different_failures_do_not_merge(a: str, b: str) -> None:
    na, nb = normalise(a), normalise(b)
    assert near_duplicate_distance(na, nb) is None
    assert Levenshtein.distance(na, nb) >= edit_limit(len(na), len(nb))


def test_short_texts_match_only_when_identical() -> None:
    # triage: a limit of 1 or less admits no difference at all
    assert edit_limit(10, 12) == 1
    assert near_duplicate_distance("exit N: EOF", "exit N: EOT") is None
    assert near_duplicate_distance("exit N: EOF", "exit N: EOF") == 0


def test_prefilter_never_rejects_a_true_near_duplicate() -> None:
    rng = random.Random(7)
    lines = [
        normalise(x)
        for x in (GO_MOD, STATICCHECK, PROXY_RESET, ASAN_1, MOCHA_60, XCTEST_1, RX_OBS, ELIXIR_A, PHP_B)
    ]
    alphabet = "abcdefghijklmnopqrstuvwxyz :/.()N"
    for _ in range(400):
        a = rng.choice(lines)
        b = list(a)
        for _ in range(rng.randint(0, max(1, len(a) // 8))):
            op, pos = rng.randint(0, 2), rng.randrange(len(b) + 1)
            if op == 0:
                b.insert(pos, rng.choice(alphabet))
            elif b and pos < len(b):
                if op == 1:
                    del b[pos]
                else:
                    b[pos] = rng.choice(alphabet)
        text = "".join(b)
        exact = Levenshtein.distance(a, text)
        assert ngram_lower_bound(ngram_counts(a), ngram_counts(text)) <= exact
        lo, hi = length_window(len(a))
        expected = exact if (exact == 0 or exact < edit_limit(len(a), len(text))) else None
        assert near_duplicate_distance(a, text) == expected
        if expected is not None:
            assert lo <= len(text) <= hi


# ----------------------------------------------------------------------------- placement
def test_cluster_id_and_title_are_derived_from_the_founding_text() -> None:
    norm = normalise(GO_MOD)
    assert cluster_id("dependency", norm) == hashlib.sha256(f"dependency\n{norm}".encode()).hexdigest()[:16]
    assert cluster_id("dependency", norm) != cluster_id("lint", norm)
    assert cluster_title("dependency", norm) == f"dependency: {norm}"  # 94 characters
    long = normalise(PROXY_RESET)
    assert cluster_title("network", long) == f"network: {long[: TITLE_CHARS - 1].rstrip()}…"
    assert len(cluster_title("network", long)) == len("network: ") + TITLE_CHARS


def test_exact_signature_then_text_then_similar_then_new() -> None:
    placed = cluster_failures(
        [
            rec(1, XCTEST_1),
            rec(2, XCTEST_1.replace("1.310 (1.314)", "1.496 (1.500)")),  # same signature
            rec(3, XCTEST_2),  # near-duplicate
            rec(4, GO_FAIL_A),
            rec(5, GO_FAIL_B),
            rec(6, XCTEST_1, signature=""),  # no signature: same normalised text
            rec(7, GO_MOD, category="dependency"),
        ]
    )
    kinds = [p.match for _, p in placed]
    assert kinds == [
        MatchKind.NEW,
        MatchKind.SIGNATURE,
        MatchKind.SIMILAR,
        MatchKind.NEW,
        MatchKind.NEW,
        MatchKind.TEXT,
        MatchKind.NEW,
    ]
    ids = [p.cluster_id for _, p in placed]
    assert ids[0] == ids[1] == ids[2] == ids[5] == cluster_id("test", normalise(XCTEST_1))
    assert len(set(ids)) == 4
    assert placed[2][1].distance == 1


def test_categories_never_share_a_cluster() -> None:
    placed = cluster_failures([rec(1, GO_MOD, category="dependency"), rec(2, GO_MOD, category="lint")])
    assert placed[0][1].cluster_id != placed[1][1].cluster_id


def test_a_ci_marker_signature_does_not_glue_different_failures() -> None:
    marker = sig("##[error]Process completed with exit code 1.")
    # the engine anchored on the marker and listed the failed command's last line first
    assert exact_signature(marker, GO_MOD) is None
    assert exact_signature(sig(GO_MOD), GO_MOD) == sig(GO_MOD)
    assert exact_signature(sig("x" * 900), "x" * 500) == sig("x" * 900)  # the engine's 500-char cut
    placed = cluster_failures([rec(1, GO_MOD, signature=marker), rec(2, PHP_A, signature=marker)])
    assert placed[0][1].cluster_id != placed[1][1].cluster_id


def test_clustering_is_deterministic_and_order_independent() -> None:
    lines = [XCTEST_1, XCTEST_2, RX_OBS, RX_OBS_ALT, RX_FLOW, ASAN_1, ASAN_2, GO_FAIL_A, PHP_A, PHP_B]
    records = [rec(i + 1, text) for i, text in enumerate(lines * 2)]
    first = cluster_failures(records)
    shuffled = records[:]
    random.Random(3).shuffle(shuffled)
    second = cluster_failures(shuffled)
    assert [(f.job_id, p) for f, p in first] == [(f.job_id, p) for f, p in second]
    assert len({p.cluster_id for _, p in first}) == 7  # ASan twice, XCTest and RxJava Alt merge


def test_index_place_changes_nothing_and_assign_records() -> None:
    index = ClusterIndex()
    placed = index.place("test", sig(PHP_A), PHP_A)
    assert placed.match is MatchKind.NEW and len(index) == 0
    index.assign("test", sig(PHP_A), PHP_A)
    assert index.place("test", sig(PHP_A), PHP_A).match is MatchKind.SIGNATURE
    assert len(index) == 1 and index.seeds[0].representative == normalise(PHP_A)


# ----------------------------------------------------------------------------- trend and impact
@pytest.mark.parametrize(
    ("recent", "previous", "expected"),
    [
        (0, 0, Trend.STEADY),
        (4, 0, Trend.STEADY),  # P(X >= 4 | n=4) = 1/16 > 0.05
        (5, 0, Trend.RISING),  # 1/32
        (0, 5, Trend.FADING),
        (3, 2, Trend.STEADY),
        (10, 3, Trend.RISING),  # P(X >= 10 | n=13) = 0.046
        (9, 3, Trend.STEADY),  # 0.073
        (2, 12, Trend.FADING),
    ],
)
def test_trend(recent: int, previous: int, expected: Trend) -> None:
    assert trend(recent, previous) is expected


def test_trend_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        trend(-1, 0)


def member(f: FailureRecord, cid: str = "c1", first: bool = False) -> ClusterMember:
    return ClusterMember(failure=f, cluster_id=cid, first_seen=first, match=MatchKind.SIGNATURE)


def test_impact_weighs_recency_and_breadth() -> None:
    new = [member(rec(1, GO_MOD, when=NOW - timedelta(hours=1)))]
    old = [member(rec(1, GO_MOD, when=NOW - timedelta(days=14)))]
    assert impact(new, NOW) == pytest.approx(2 ** (-1 / 168), rel=1e-4)
    assert impact(old, NOW) == pytest.approx(0.25, rel=1e-4)
    one_job = [member(rec(i, GO_MOD, when=NOW - timedelta(hours=1))) for i in (1, 2)]
    two_jobs = [member(rec(i, GO_MOD, when=NOW - timedelta(hours=1), job=f"j{i}")) for i in (1, 2)]
    assert impact(two_jobs, NOW) == pytest.approx(2 * impact(one_job, NOW))
    assert impact([], NOW) == 0.0


def test_summarize_cluster_counts_the_window_and_the_trend_windows() -> None:
    stored = StoredCluster("c1", "dependency", "dependency: x", "x", GO_MOD, None, None)
    history = [
        member(rec(1, GO_MOD, when=NOW - timedelta(days=10), repo="a/one", run_id=1), first=True),
        member(rec(2, GO_MOD, when=NOW - timedelta(days=2), repo="a/one", run_id=2, transient=True)),
        member(rec(3, GO_MOD, when=NOW - timedelta(days=1), repo="b/two", run_id=3, job="lint")),
        member(rec(4, GO_MOD, when=NOW - timedelta(hours=1), repo="b/two", run_id=3, job="lint")),
    ]
    view = [m for m in history if m.failure.repository == "b/two"]
    c = summarize_cluster(stored, history, view, now=NOW, since=NOW - timedelta(days=7))
    assert (c.occurrences, c.total_occurrences, c.runs, c.jobs) == (2, 4, 1, 1)
    assert c.repositories == ("b/two",) and c.job_names == ("lint",)
    assert c.first_seen == NOW - timedelta(days=10) and c.last_seen == NOW - timedelta(hours=1)
    assert c.recurring and not c.new
    assert (c.recent, c.previous, c.trend) == (2, 0, Trend.STEADY)
    assert c.transient_share == 0.0
    assert [e.job_id for e in c.examples] == [4]  # one example per run, newest first
    whole = summarize_cluster(stored, history, history, now=NOW, since=None)
    assert (whole.occurrences, whole.recent, whole.previous, whole.transient_share) == (4, 3, 1, 0.25)
    assert whole.new and whole.repositories == ("a/one", "b/two")


def test_rank_by_impact_then_recency_then_id() -> None:
    stored = StoredCluster("c1", "test", "t", "x", "x", None, None)
    busy = summarize_cluster(
        stored,
        [member(rec(i, PHP_A)) for i in (1, 2, 3)],
        [member(rec(i, PHP_A)) for i in (1, 2, 3)],
        now=NOW,
        since=None,
    )
    quiet = summarize_cluster(
        StoredCluster("c0", "test", "t", "x", "x", None, None),
        [member(rec(4, PHP_B))],
        [member(rec(4, PHP_B))],
        now=NOW,
        since=None,
    )
    assert [c.id for c in rank([quiet, busy])] == ["c1", "c0"]
