"""Deterministic evidence (issue 11 §6): an assertion, compiler/linter diagnostic, non-network
exception or formatter diff makes a failure non-transient, whatever network noise follows;
network-only failures stay transient; a runner's summary line alone is no evidence."""

from __future__ import annotations

import pytest

from cimedic.analysis.diagnosis import Diagnoser
from cimedic.analysis.diagnosis.evidence import (
    BLOCK_LINES,
    CauseLine,
    block_after,
    classify,
    deterministic_evidence,
    is_transient,
)
from cimedic.model import Category, Diagnosis, LogFormat
from cimedic.model.diagnosis import Evidence, EvidenceKind
from cimedic.services.diagnose import diagnose_bytes, make_diagnoser

TS = "2026-03-02T10:00:0{}.1000000Z "


@pytest.fixture(scope="module")
def diagnoser() -> Diagnoser:
    """The engine with the bundled knowledge base (as ``cimedic analyze`` builds it)."""
    return make_diagnoser()[0]


def gha(command: str, *output: str, exit_code: int = 1) -> bytes:
    """A GitHub Actions job log: one ``run`` step printing ``output``, then failing."""
    lines = [f"##[group]Run {command}", command, "shell: /usr/bin/bash -e {0}", "##[endgroup]", *output]
    lines.append(f"##[error]Process completed with exit code {exit_code}.")
    return ("".join(TS.format(i % 10) + line + "\n" for i, line in enumerate(lines))).encode()


def diagnose(diagnoser: Diagnoser, data: bytes) -> Diagnosis:
    d = diagnose_bytes(data, "job.log", diagnoser)
    assert d.log.format is LogFormat.GITHUB_ACTIONS
    return d


# A mocha run: one real assertion failure, then the coverage upload's ECONNRESET. Before the
# rule this was diagnosed network / connection-reset / transient, and `heal --apply` re-ran it.
MOCHA_RESET = gha(
    "npm test",
    "> shop@2.1.0 test",
    "> mocha test/",
    "  checkout",
    "    \u2713 adds items (4ms)",
    "    1) applies the discount",
    "  1 passing (2s)",
    "  1 failing",
    "  1) checkout",
    "       applies the discount:",
    "      AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:",  # line 14
    "      30 !== 25",
    "      at Context.<anonymous> (test/checkout.test.js:21:12)",
    "Error: read ECONNRESET",  # line 17
    "    at TLSWrap.onStreamRead (node:internal/stream_base_commons:217:20)",
)


def test_assertion_followed_by_econnreset_is_a_test_failure_not_transient(diagnoser: Diagnoser) -> None:
    d = diagnose(diagnoser, MOCHA_RESET)
    assert (d.category, d.transient) == (Category.TEST, False)
    assert d.cause is not None and not d.cause.transient  # not connection-reset
    assert Evidence(line=14, kind=EvidenceKind.ASSERTION, lf_line=14) in d.deterministic_evidence
    assert 17 not in {e.line for e in d.deterministic_evidence}  # the network line is no evidence
    assert d.summary.startswith("test failure")


ONLY_NETWORK = {
    "npm": gha(
        "npm ci",
        "npm ERR! code ECONNRESET",
        "npm ERR! syscall read",
        "npm ERR! errno ECONNRESET",
        "npm ERR! network request to https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz failed, reason: read ECONNRESET",
        "npm ERR! network This is a problem related to network connectivity.",
    ),
    "dns": gha(
        "git clone https://github.com/acme/assets.git",
        "Cloning into 'assets'...",
        "fatal: unable to access 'https://github.com/acme/assets.git/': Could not resolve host: github.com",
        exit_code=128,
    ),
    "tls": gha(
        "go mod download",
        'go: github.com/acme/telemetry@v0.3.1: Get "https://proxy.golang.org/github.com/acme/telemetry/@v/v0.3.1.zip": net/http: TLS handshake timeout',
    ),
    "registry": gha(
        "docker pull node:20-alpine",
        "Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit",
    ),
}


@pytest.mark.parametrize("name", sorted(ONLY_NETWORK))
def test_network_dns_tls_registry_only_stays_transient(diagnoser: Diagnoser, name: str) -> None:
    d = diagnose(diagnoser, ONLY_NETWORK[name])
    assert d.transient, (name, d.category, d.cause)
    assert d.category in {Category.NETWORK, Category.RATE_LIMIT, Category.REGISTRY}
    assert d.deterministic_evidence == ()


def test_compiler_error_with_network_noise_is_not_transient(diagnoser: Diagnoser) -> None:
    d = diagnose(
        diagnoser,
        gha(
            "go build ./...",
            "# github.com/acme/app/server",
            "server/handler.go:27:9: undefined: renderJSON",  # line 6
            'go: github.com/acme/telemetry@v0.3.1: Get "https://proxy.golang.org/x.zip": read tcp 10.1.0.4:53312->142.250.1.141:443: read: connection reset by peer',
        ),
    )
    assert (d.category, d.transient) == (Category.COMPILATION, False)
    assert d.deterministic_evidence[0] == Evidence(line=6, kind=EvidenceKind.COMPILER, lf_line=6)


@pytest.mark.parametrize(
    ("command", "summary", "network"),
    [
        (  # Maven's test summary, then the network error that failed the build
            "mvn -B verify",
            "[INFO] Tests run: 5, Failures: 1, Errors: 0, Skipped: 0",
            "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy (default) on project app: Could not transfer artifact com.acme:telemetry:jar:0.3.1 from/to central (https://repo.maven.apache.org/maven2): Connection reset -> [Help 1]",
        ),
        (  # go test's package line (a KB cause matches it) and the module download's DNS error
            "go test ./...",
            "FAIL\tgithub.com/acme/app/config [setup failed]",
            'go: github.com/acme/telemetry@v0.3.1: Get "https://proxy.golang.org/x.zip": dial tcp: lookup proxy.golang.org on 127.0.0.53:53: read udp 127.0.0.1:40812->127.0.0.53:53: i/o timeout',
        ),
    ],
)
def test_runner_summary_alone_is_no_evidence_the_network_line_decides(
    diagnoser: Diagnoser, command: str, summary: str, network: str
) -> None:
    d = diagnose(diagnoser, gha(command, summary, network))
    assert d.deterministic_evidence == ()
    assert d.transient, (d.category, d.cause)
    assert d.cause is not None and d.cause.transient


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("E       AssertionError: assert 'ada' == 'Ada'", EvidenceKind.ASSERTION),
        ("    Expected: 30", EvidenceKind.ASSERTION),
        ('    config_test.go:42: ParseConfig("a=1") = 2, want 1', EvidenceKind.ASSERTION),
        ("expected:<1> but was:<2>", EvidenceKind.ASSERTION),
        ("src/a.c:12:3: error: expected ';' after expression", EvidenceKind.COMPILER),
        (
            "src/app.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.",
            EvidenceKind.COMPILER,
        ),
        ("app/models.py:1:1: F401 'os' imported but unused", EvidenceKind.LINTER),
        ("  12:5  error  Unexpected var, use let or const instead  no-var", EvidenceKind.LINTER),
        ("would reformat src/app/models.py", EvidenceKind.FORMATTER),
        ("Diff in /home/runner/work/app/src/lib.rs at line 12:", EvidenceKind.FORMATTER),
        ("panic: runtime error: index out of range [3] with length 3", EvidenceKind.EXCEPTION),
        ('java.lang.NullPointerException: Cannot invoke "String.length()"', EvidenceKind.EXCEPTION),
        ("TypeError: Cannot read properties of undefined (reading 'id')", EvidenceKind.EXCEPTION),
        # runner summaries and per-test markers: no evidence on their own
        ("FAIL\tgithub.com/x/y\t0.012s", None),
        ("--- FAIL: TestParseConfig (0.00s)", None),
        ("===== 3 failed, 9 passed in 0.42s =====", None),
        ("Tests run: 5, Failures: 1, Errors: 0, Skipped: 0", None),
        ("Tests:       1 failed, 14 passed, 15 total", None),
        ("Error: Process completed with exit code 1.", None),
        # network errors, whatever their form
        ("Error: read ECONNRESET", None),
        ("curl: (56) Recv failure: Connection reset by peer", None),
        (
            "E   requests.exceptions.ConnectionError: ('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
            None,
        ),
        (
            '    client_test.go:20: Get "https://api.acme.io": dial tcp: lookup api.acme.io: no such host',
            None,
        ),
        ("panic: dial tcp 10.0.0.5:5432: i/o timeout", None),
        ("Caused by: java.net.SocketTimeoutException: Read timed out", None),
        ("net/http: TLS handshake timeout", None),
        ("toomanyrequests: You have reached your pull rate limit.", None),
    ],
)
def test_classify(text: str, kind: EvidenceKind | None) -> None:
    assert classify(text) is kind


def test_network_flag_cancels_assertions_but_not_compiler_diagnostics() -> None:
    assert classify("AssertionError: upload failed", network=True) is None
    assert classify("main.go:3:2: undefined: x", network=True) is EvidenceKind.COMPILER


def test_exception_wrapping_a_network_error_in_its_block_is_no_evidence() -> None:
    head = 'hudson.plugins.git.GitException: Command "git fetch --tags https://github.com/acme/app.git" returned status code 128:'
    texts = {
        10: head,
        11: "stdout: ",
        12: "stderr: fatal: unable to access 'https://github.com/acme/app.git/': The requested URL returned error: 503",
        13: "",
        14: "\tat org.jenkinsci.plugins.gitclient.CliGitAPIImpl.launchCommandIn(CliGitAPIImpl.java:2671)",
    }
    block = block_after(10, texts)
    assert block == (texts[11], texts[12])  # up to the first blank line
    assert classify(head) is EvidenceKind.EXCEPTION
    assert classify(head, block=block) is None
    long = {n: f"\tat frame{n}(X.java:{n})" for n in range(2, 2 + 2 * BLOCK_LINES)}
    assert len(block_after(1, long)) == BLOCK_LINES


def test_evidence_keeps_order_and_transient_needs_none() -> None:
    lines = [
        CauseLine(30, "Error: read ECONNRESET"),
        CauseLine(12, "E       assert 2 == 3"),
        CauseLine(8, "app.py:3:1: E302 expected 2 blank lines, found 1"),
        CauseLine(40, "FAILED tests/test_a.py::test_b", network=False),
    ]
    ev = deterministic_evidence(lines)
    assert ev == (Evidence(line=12, kind=EvidenceKind.ASSERTION), Evidence(line=8, kind=EvidenceKind.LINTER))
    assert is_transient(True, ()) and not is_transient(True, ev) and not is_transient(False, ())


def test_stored_diagnosis_without_the_field_still_validates(diagnoser: Diagnoser) -> None:
    stored = diagnose(diagnoser, ONLY_NETWORK["npm"]).model_dump(mode="json")
    del stored["deterministic_evidence"]  # as written before the field existed
    old = Diagnosis.model_validate(stored)
    assert old.deterministic_evidence == () and old.transient
    new = Diagnosis.model_validate(diagnose(diagnoser, MOCHA_RESET).model_dump(mode="json"))
    assert new.deterministic_evidence[0].kind is EvidenceKind.ASSERTION
