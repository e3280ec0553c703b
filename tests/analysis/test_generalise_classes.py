"""Issue 12 step 3 §2: classes of failure missed on logs of repositories cimedic had never seen.

1. A network/TLS timeout inside a test step, far above the runner's ``FAIL`` summary, is a
   network failure and transient; with an assertion next to it, it is a test failure and not.
2. A Rust test's excerpt holds its panic text (libtest prints ``test x ... FAILED`` before the
   ``failures:`` block with ``thread 'x' panicked at src/lib.rs:10:5:`` and the message).
3. A Go test's excerpt holds its ``x_test.go:12: ...`` message lines (``go test`` and
   ``go test -v``, where the messages come before ``--- FAIL``).
4. An Erlang xref failure shows the xref answer (``M:F/A calls undefined function M:F/A``)
   above ``ERROR: xref failed`` / ``===> Xref failed``.
5. A JUnit assertion (``org.opentest4j.AssertionFailedError: expected: <..> but was: <..>``)
   outranks an exception stack the code under test logged earlier in the same test run.
6. In a GitHub Actions log, a failure in an earlier command of a ``bash -e`` step is found even
   when its line has no error keyword and a later step prints one; the later step names no cause.

Each log is synthetic, written in the tool's documented output format (GitHub Actions job logs
with the runner's timestamps, Travis CI logs as plain text).
"""

from __future__ import annotations

import re

import pytest

from cimedic.analysis.diagnosis import Diagnoser
from cimedic.analysis.diagnosis.patterns import LINE_PATTERNS
from cimedic.model import Category, Diagnosis, LogFormat
from cimedic.services.diagnose import diagnose_bytes, make_diagnoser

TS = "2026-03-02T10:{:02d}:{:02d}.1000000Z "


@pytest.fixture(scope="module")
def diagnoser() -> Diagnoser:
    """The engine with the bundled knowledge base (as ``cimedic analyze`` builds it)."""
    return make_diagnoser()[0]


def gha_lines(*lines: str) -> bytes:
    """A downloaded GitHub Actions job log: each line behind the runner's timestamp."""
    return "".join(TS.format(i // 60, i % 60) + line + "\n" for i, line in enumerate(lines)).encode()


def run_step(command: str) -> list[str]:
    """The header GitHub's runner writes before a ``run`` step's output."""
    return [f"##[group]Run {command}", command, "shell: /usr/bin/bash -e {0}", "##[endgroup]"]


def diagnose_plain(diagnoser: Diagnoser, text: str) -> Diagnosis:
    """A plain-text (Travis-like) log."""
    return diagnose_bytes(text.encode(), "job.log", diagnoser)


def excerpt_range(d: Diagnosis) -> range:
    assert d.excerpt is not None
    return range(d.excerpt.start_line, d.excerpt.end_line + 1)


def passing_go_tests(n: int) -> list[str]:
    """``go test -v`` lines of ``n`` passing tests."""
    out: list[str] = []
    for i in range(n):
        out += [f"=== RUN   TestList{i}", f"--- PASS: TestList{i} (0.00s)"]
    return out


# --- 1. a network error inside a test step, only the runner's summary near the end ----------------


def go_test_network_log(message: str) -> bytes:
    """``go test -v``: the network error is logged by the test (``t.Log``) 80 lines above the
    runner's ``--- FAIL`` / ``FAIL pkg 30.01s`` summary (the excerpt is that summary)."""
    return gha_lines(
        "##[group]Run actions/checkout@v4",
        "##[endgroup]",
        *run_step("go test -v ./..."),
        "=== RUN   TestFetchRelease",
        message,
        *passing_go_tests(40),
        "--- FAIL: TestFetchRelease (30.00s)",
        "FAIL",
        "FAIL\tgithub.com/acme/widget/internal/release\t30.01s",
        "FAIL",
        "##[error]Process completed with exit code 1.",
    )


@pytest.mark.parametrize(
    "message",
    [
        '    client.go:88: Get "https://api.github.com/repos/acme/widget/releases": dial tcp 10.0.0.1:443: i/o timeout',
        '    client.go:88: Get "https://proxy.golang.org/x/@v/list": net/http: TLS handshake timeout',
    ],
    ids=["dial-tcp-timeout", "tls-handshake-timeout"],
)
def test_network_error_far_above_the_fail_summary_is_transient(diagnoser: Diagnoser, message: str) -> None:
    d = diagnose_bytes(go_test_network_log(message), "job.log", diagnoser)
    assert d.log.format is LogFormat.GITHUB_ACTIONS
    assert d.category is Category.NETWORK, d.summary
    assert d.transient
    assert d.deterministic_evidence == ()
    assert 8 in [e.line for e in d.error_lines], d.error_lines  # the network line is reported


def test_network_error_with_an_assertion_is_a_test_failure(diagnoser: Diagnoser) -> None:
    """The same log with the test's own assertion message: deterministic evidence wins."""
    log = gha_lines(
        *run_step("go test -v ./..."),
        "=== RUN   TestFetchRelease",
        '    client.go:88: Get "https://api.github.com/repos/acme/widget/releases": dial tcp 10.0.0.1:443: i/o timeout',
        *passing_go_tests(40),
        "    release_test.go:52: expected 3 releases, got 0",
        "--- FAIL: TestFetchRelease (30.00s)",
        "FAIL",
        "FAIL\tgithub.com/acme/widget/internal/release\t30.01s",
        "FAIL",
        "##[error]Process completed with exit code 1.",
    )
    d = diagnose_bytes(log, "job.log", diagnoser)
    assert d.category is Category.TEST, d.summary
    assert not d.transient
    assert d.deterministic_evidence


def test_network_error_in_an_earlier_step_is_not_the_cause(diagnoser: Diagnoser) -> None:
    """A retried download in a step that succeeded is outside the failed step: the failure is
    not made transient by it (only the failed step's lines count)."""
    log = gha_lines(
        *run_step("go mod download"),
        'go: github.com/acme/dep@v1.2.0: Get "https://proxy.golang.org/x": dial tcp 10.0.0.1:443: i/o timeout',
        "go: retrying in 2s",
        *run_step("go test -v ./..."),
        "=== RUN   TestParse",
        *passing_go_tests(40),
        "--- FAIL: TestParse (0.00s)",
        "FAIL",
        "FAIL\tgithub.com/acme/widget/internal/parse\t0.01s",
        "FAIL",
        "##[error]Process completed with exit code 1.",
    )
    d = diagnose_bytes(log, "job.log", diagnoser)
    assert not d.transient, d.summary
    assert d.category is not Category.NETWORK


def test_pytest_connect_timeout_is_transient(diagnoser: Diagnoser) -> None:
    """pytest: ``E   requests.exceptions.ConnectTimeout`` is a network error, not an exception
    that counts as evidence (:mod:`cimedic.analysis.diagnosis.evidence`)."""
    log = gha_lines(
        *run_step("pytest -q"),
        "tests/test_api.py ..........F.                                           [100%]",
        "",
        "=================================== FAILURES ===================================",
        "_______________________________ test_fetch_index _______________________________",
        "",
        "    def test_fetch_index():",
        ">       r = requests.get(INDEX_URL, timeout=5)",
        "",
        "tests/test_api.py:14: ",
        "_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _",
        "E   requests.exceptions.ConnectTimeout: HTTPSConnectionPool(host='pypi.org', port=443): "
        "Max retries exceeded with url: /simple/ (Caused by ConnectTimeoutError(<urllib3.connection."
        "HTTPSConnection object at 0x7f>, 'Connection to pypi.org timed out. (connect timeout=5)'))",
        "",
        "=========================== short test summary info ============================",
        "FAILED tests/test_api.py::test_fetch_index - requests.exceptions.ConnectTimeout: HTTPSConnectionPool",
        "========================= 1 failed, 11 passed in 6.12s =========================",
        "##[error]Process completed with exit code 1.",
    )
    d = diagnose_bytes(log, "job.log", diagnoser)
    assert d.category is Category.NETWORK, d.summary
    assert d.transient
    assert 15 in excerpt_range(d)


# --- 2. a Rust test's panic message belongs to its excerpt ---------------------------------------

CARGO_TEST = [
    "   Compiling widget v0.1.0 (/home/runner/work/widget/widget)",
    "    Finished test [unoptimized + debuginfo] target(s) in 4.20s",
    "     Running unittests src/lib.rs (target/debug/deps/widget-1a2b3c4d5e6f7a8b)",
    "",
    "running 3 tests",
    "test tests::parses_empty ... ok",
    "test tests::parses_header ... FAILED",
    "test tests::parses_body ... ok",
    "",
    "failures:",
    "",
    "---- tests::parses_header stdout ----",
    "thread 'tests::parses_header' panicked at src/lib.rs:10:5:",
    "assertion `left == right` failed: header length mismatch",
    "  left: 3",
    " right: 4",
    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
    "",
    "",
    "failures:",
    "    tests::parses_header",
    "",
    "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
    "",
    "error: test failed, to rerun pass `--lib`",
]


def test_rust_panic_message_is_in_the_excerpt(diagnoser: Diagnoser) -> None:
    log = gha_lines(*run_step("cargo test"), *CARGO_TEST, "##[error]Process completed with exit code 101.")
    d = diagnose_bytes(log, "job.log", diagnoser)
    assert d.category is Category.TEST
    assert not d.transient
    lines = excerpt_range(d)
    failed, panic = 4 + CARGO_TEST.index("test tests::parses_header ... FAILED") + 1, 4 + 13
    assert failed in lines
    assert all(n in lines for n in range(panic, panic + 4)), (d.excerpt, panic)  # panic + message
    assert panic + 4 not in lines  # libtest's RUST_BACKTRACE note is not the message


def test_rust_panic_of_another_test_is_not_taken(diagnoser: Diagnoser) -> None:
    """Only the failed test's own panic extends its excerpt."""
    other = [line.replace("thread 'tests::parses_header'", "thread 'tests::other'") for line in CARGO_TEST]
    d = diagnose_plain(diagnoser, "$ cargo test\n" + "\n".join(other) + "\n")
    assert d.excerpt is not None
    assert d.excerpt.end_line < 1 + 13


# --- 3. a Go test's message lines belong to its excerpt ------------------------------------------


def test_go_test_message_lines_are_in_the_excerpt(diagnoser: Diagnoser) -> None:
    log = gha_lines(
        *run_step("go test ./..."),
        "--- FAIL: TestParseHeader (0.00s)",
        "    header_test.go:12: expected 4 fields, got 3",
        '    header_test.go:13: trailer missing in "a,b,c"',
        "FAIL",
        "FAIL\tgithub.com/acme/widget/header\t0.004s",
        "ok  \tgithub.com/acme/widget/store\t0.010s",
        "FAIL",
        "##[error]Process completed with exit code 1.",
    )
    d = diagnose_bytes(log, "job.log", diagnoser)
    assert d.category is Category.TEST
    assert {5, 6, 7} <= set(excerpt_range(d))
    assert not d.transient and d.deterministic_evidence


def test_go_test_verbose_message_lines_before_the_marker(diagnoser: Diagnoser) -> None:
    """``go test -v`` streams ``t.Errorf`` output before the ``--- FAIL`` line."""
    log = gha_lines(
        *run_step("go test -v ./..."),
        "=== RUN   TestParseEmpty",
        "--- PASS: TestParseEmpty (0.00s)",
        "=== RUN   TestParseHeader",
        "    header_test.go:12: expected 4 fields, got 3",
        '    header_test.go:13: trailer missing in "a,b,c"',
        "--- FAIL: TestParseHeader (0.00s)",
        "FAIL",
        "FAIL\tgithub.com/acme/widget/header\t0.004s",
        "FAIL",
        "##[error]Process completed with exit code 1.",
    )
    d = diagnose_bytes(log, "job.log", diagnoser)
    assert d.category is Category.TEST
    assert {8, 9, 10} <= set(excerpt_range(d))


# --- 4. Erlang xref: the answer above the summary -------------------------------------------------

REBAR3_XREF = """\
$ rebar3 xref
===> Verifying dependencies...
===> Analyzing applications...
===> Compiling widget
===> Running cross reference analysis...
===> Warning: widget_app:start/2 calls undefined function widget_sup:start_link/1 (Xref)
===> Warning: widget_srv:init/1 calls undefined function lists:foo/2 (Xref)
===> Xref failed
The command "rebar3 xref" exited with 1.
"""
ERLANG_MK_XREF = """\
$ make xref
src/widget_app.erl:12: Warning: widget_app:start/2 calls undefined function widget_sup:start_link/1
src/widget_srv.erl:40: Warning: widget_srv:init/1 calls undefined function lists:foo/2
ERROR: xref failed
make: *** [xref] Error 1
The command "make xref" exited with 2.
"""


@pytest.mark.parametrize(
    ("log", "answer", "summary"),
    [(REBAR3_XREF, (6, 7), 8), (ERLANG_MK_XREF, (2, 3), 4)],
    ids=["rebar3", "erlang.mk"],
)
def test_xref_answer_is_found(diagnoser: Diagnoser, log: str, answer: tuple[int, int], summary: int) -> None:
    d = diagnose_plain(diagnoser, log)
    assert d.category is Category.COMPILATION, d.summary
    assert d.cause is not None and d.cause.id == "erlang-xref-undefined-function"
    assert not d.transient and d.deterministic_evidence
    lines = excerpt_range(d)
    assert all(n in lines for n in (*answer, summary)), d.excerpt
    top = [e.line for e in d.error_lines[:3]]
    assert set(answer) <= set(top), d.error_lines


def test_xref_patterns_follow_xref_wording() -> None:
    """The xref answer lines match ``erlang.xref``; xref's progress and a passing run do not."""
    pats = {p.id: re.compile(p.regex) for p in LINE_PATTERNS if p.id.startswith("erlang.xref")}
    assert pats["erlang.xref"].search("===> Warning: a:b/0 calls undefined function c:d/1 (Xref)")
    assert pats["erlang.xref_failed"].search("ERROR: xref failed")
    for text in ("===> Running cross reference analysis...", "xref: no undefined function calls found"):
        assert not any(p.search(text) for p in pats.values()), text


# --- 5. a JUnit assertion outranks an exception the code under test logged earlier -------------

SUREFIRE_WITH_LOGGED_EXCEPTION = [
    "[INFO] -------------------------------------------------------",
    "[INFO]  T E S T S",
    "[INFO] -------------------------------------------------------",
    "[INFO] Running com.acme.widget.StoreTest",
    "10:00:01.123 [main] ERROR com.acme.widget.Store - could not load cache, starting empty",
    "java.io.FileNotFoundException: /tmp/widget-cache/index.bin (No such file or directory)",
    "\tat java.base/java.io.FileInputStream.open0(Native Method)",
    "\tat com.acme.widget.Store.loadCache(Store.java:88)",
    "\tat com.acme.widget.StoreTest.setUp(StoreTest.java:20)",
    "[ERROR] Tests run: 3, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.412 s <<< FAILURE! - in "
    "com.acme.widget.StoreTest",
    "[ERROR] com.acme.widget.StoreTest.keepsOrder  Time elapsed: 0.05 s  <<< FAILURE!",
    "{assertion}",
    "\tat com.acme.widget.StoreTest.keepsOrder(StoreTest.java:47)",
    "",
    "[INFO] Results:",
    "[INFO] ",
    "[ERROR] Failures: ",
    "[ERROR]   StoreTest.keepsOrder:47 expected: <[a, b, c]> but was: <[a, c, b]>",
    "[INFO] ",
    "[ERROR] Tests run: 3, Failures: 1, Errors: 0, Skipped: 0",
    "[INFO] BUILD FAILURE",
    "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test (default-test) "
    "on project widget: There are test failures.",
]


@pytest.mark.parametrize(
    "assertion",
    [
        "org.opentest4j.AssertionFailedError: expected: <[a, b, c]> but was: <[a, c, b]>",
        "java.lang.AssertionError: expected:<[a, b, c]> but was:<[a, c, b]>",
        "org.junit.ComparisonFailure: expected:<a, [b, c]> but was:<a, [c, b]>",
    ],
    ids=["junit5", "junit4", "junit4-strings"],
)
def test_junit_assertion_outranks_a_logged_exception(diagnoser: Diagnoser, assertion: str) -> None:
    lines = [t.replace("{assertion}", assertion) for t in SUREFIRE_WITH_LOGGED_EXCEPTION]
    log = gha_lines(*run_step("mvn -B verify"), *lines, "##[error]Process completed with exit code 1.")
    d = diagnose_bytes(log, "job.log", diagnoser)
    at = 4 + lines.index(assertion) + 1
    logged = 4 + 6
    assert d.category is Category.TEST
    assert d.error_lines[0].line == at, d.error_lines[:3]
    assert at in excerpt_range(d) and logged not in excerpt_range(d), d.excerpt


def test_junit_assertion_pattern_needs_the_framework_class() -> None:
    """A user class named like an assertion, or the class quoted mid-line, is not the pattern."""
    pat = re.compile(next(p.regex for p in LINE_PATTERNS if p.id == "junit.assertion"))
    assert pat.search("org.opentest4j.AssertionFailedError: expected: <1> but was: <2>")
    for text in (
        "com.acme.AssertionFailedErrorHandler: retry",
        "[main] INFO caught java.lang.AssertionError: ignored in cleanup",
    ):
        assert not pat.search(text), text
