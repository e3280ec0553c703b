"""Issue 12 step 3 §2: rules follow the output format of a tool, not one repository's log.

1. Compiler diagnostics in each compiler's own format (Go, javac, kotlinc, tsc, rustc,
   gcc/clang) are diagnosed in their category: a Go ``undeclared name`` (Go < 1.20), a
   ``go vet`` type-check failure and staticcheck's ``(compile)`` report were ``unknown`` or not
   found at all.
2. With ``--baseline`` (a passing log of the same job), the failed step's output can be demoted
   entirely; the excerpt and ``error_lines`` then never hold GitHub's step-header bookkeeping
   (``##[group]Run``, ``shell:``, ``env:`` and its ``KEY: value`` lines, ``##[endgroup]``).
3. Lines of the CI harness (Homebrew's "already installed" in Travis ``before_install``, GitHub's
   ``Post job cleanup.``) do not outrank the failed command's output.

Each log is synthetic, written in the tool's documented output format.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cimedic.analysis.diagnosis import Diagnoser
from cimedic.analysis.diagnosis.step_output import is_bookkeeping, step_tail
from cimedic.model import Category, Diagnosis, LogFormat
from cimedic.services.diagnose import analyze_path, diagnose_bytes, make_diagnoser

TS = "2026-03-02T10:{:02d}:{:02d}.1000000Z "
GHA_HEADER_LINES = ("##[group]", "##[endgroup]", "shell: ", "env:", "  CI: ", "  NODE_ENV: ", "  GOFLAGS: ")


@pytest.fixture(scope="module")
def diagnoser() -> Diagnoser:
    """The engine with the bundled knowledge base (as ``cimedic analyze`` builds it)."""
    return make_diagnoser()[0]


def gha_lines(*lines: str) -> bytes:
    """A downloaded GitHub Actions job log: each line behind the runner's timestamp."""
    return "".join(TS.format(i // 60, i % 60) + line + "\n" for i, line in enumerate(lines)).encode()


def run_step(command: str, env: dict[str, str]) -> list[str]:
    """The header GitHub's runner writes before a ``run`` step's output."""
    head = [f"##[group]Run {command}", command, "shell: /usr/bin/bash -e {0}"]
    if env:
        head += ["env:", *(f"  {k}: {v}" for k, v in env.items())]
    return [*head, "##[endgroup]"]


def diagnose_plain(diagnoser: Diagnoser, text: str) -> Diagnosis:
    return diagnose_bytes(text.encode(), "job.log", diagnoser)


def top_lines(d: Diagnosis, n: int = 5) -> list[int]:
    return [e.line for e in d.error_lines[:n]]


# --- 1. compiler diagnostics are compilation errors -------------------------------------------

GO_BUILD_UNDECLARED = """\
go: downloading github.com/stretchr/testify v1.8.4
# github.com/acme/widget/internal/store
internal/store/db.go:12:3: undeclared name: Conn
internal/store/db.go:19:9: undeclared name: Conn
"""
GO_BUILD_UNDEFINED = """\
# github.com/acme/widget/cmd/widget
cmd/widget/main.go:12:3: undefined: runServer
"""
GO_VET_TYPECHECK = """\
+ go vet ./...
# github.com/acme/widget/internal/store
vet: internal/store/db.go:12:3: undeclared name: Conn
"""
STATICCHECK_COMPILE = """\
+ staticcheck ./...
-: # github.com/acme/widget/internal/store
internal/store/db.go:12:3: undeclared name: Conn (compile)
"""
GOLANGCI_TYPECHECK = """\
level=info msg="[loader] Go packages loading at mode 575"
internal/api/h.go:31:7: undeclared name: handler (typecheck)
\th := handler{}
\t     ^
"""
GO_GOPATH_MISSING = """\
$ go build ./...
main.go:4:2: cannot find package "github.com/acme/missing" in any of:
\t/usr/local/go/src/github.com/acme/missing (from $GOROOT)
\t/home/travis/gopath/src/github.com/acme/missing (from $GOPATH)
"""
JAVAC = """\
> Task :compileJava
/home/runner/work/app/app/src/main/java/com/acme/Foo.java:12: error: cannot find symbol
        Bar b = new Bar();
        ^
  symbol:   class Bar
  location: class Foo
1 error
"""
KOTLINC = """\
> Task :app:compileKotlin
e: /home/runner/work/app/app/src/main/kotlin/Main.kt: (12, 5): Unresolved reference: foo
"""
RUSTC = """\
   Compiling demo v0.1.0 (/home/runner/work/demo/demo)
error[E0425]: cannot find value `y` in this scope
 --> src/main.rs:2:5
  |
2 |     y
  |     ^ not found in this scope
For more information about this error, try `rustc --explain E0425`.
error: could not compile `demo` (bin "demo") due to 1 previous error
"""
GCC = """\
gcc -Wall -c a.c -o a.o
a.c:3:5: error: 'x' undeclared (first use in this function)
    3 |     x = 1;
      |     ^
"""
CLANG = """\
clang -Wall -c a.c -o a.o
a.c:3:5: error: use of undeclared identifier 'x'
    x = 1;
    ^
1 error generated.
"""


@pytest.mark.parametrize(
    ("log", "line", "cause"),
    [
        (GO_BUILD_UNDECLARED, 3, "go-compile-error"),
        (GO_BUILD_UNDEFINED, 2, "go-compile-error"),
        (GO_VET_TYPECHECK, 3, "go-compile-error"),
        (STATICCHECK_COMPILE, 3, "go-compile-error"),
        (GOLANGCI_TYPECHECK, 2, "go-compile-error"),
        (GO_GOPATH_MISSING, 2, "go-compile-error"),
        (JAVAC, 2, "java-unresolved-symbol"),
        (KOTLINC, 2, "kotlin-compile-error"),
        (RUSTC, 2, "rustc-compile-error"),
        (GCC, 2, "c-cpp-compile-error"),
        (CLANG, 2, "c-cpp-compile-error"),
    ],
    ids=["go-undeclared", "go-undefined", "go-vet", "staticcheck", "golangci", "gopath", "javac",
         "kotlinc", "rustc", "gcc", "clang"],
)  # fmt: skip
def test_compiler_diagnostic_is_compilation(diagnoser: Diagnoser, log: str, line: int, cause: str) -> None:
    d = diagnose_plain(diagnoser, log)
    assert d.category is Category.COMPILATION, (d.category, d.summary)
    assert d.cause is not None and d.cause.id == cause
    assert not d.transient
    assert line in top_lines(d), d.error_lines
    assert d.excerpt is not None and d.excerpt.start_line <= line <= d.excerpt.end_line


@pytest.mark.parametrize(
    "log",
    [
        "src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\n",
        "src/a.ts:3:7 - error TS2322: Type 'string' is not assignable to type 'number'.\n\n"
        '3 const x: number = "a";\n        ~\n\nFound 1 error in src/a.ts:3\n',
    ],
    ids=["tsc-classic", "tsc-pretty"],
)
def test_tsc_type_error_is_a_type_check_failure(diagnoser: Diagnoser, log: str) -> None:
    """tsc's TS2xxx errors keep the documented ``type_check`` category (docs/analyze-json.md);
    they are found in both of tsc's output formats, never ``unknown``."""
    d = diagnose_plain(diagnoser, "> tsc -p .\n" + log)
    assert d.category is Category.TYPE_CHECK
    assert d.cause is not None and d.cause.id == "typescript-type-error"
    assert top_lines(d, 1) == [2]


def test_go_undeclared_name_in_a_github_actions_annotation(diagnoser: Diagnoser) -> None:
    """The runner's ``##[error]`` annotation in front of the compiler line (was ``unknown``)."""
    log = gha_lines(
        *run_step("go build ./...", {}),
        "# github.com/acme/widget/internal/store",
        "##[error]internal/store/db.go:12:3: undeclared name: Conn",
        "##[error]Process completed with exit code 1.",
    )
    d = diagnose_bytes(log, "job.log", diagnoser)
    assert d.log.format is LogFormat.GITHUB_ACTIONS
    assert d.category is Category.COMPILATION
    assert top_lines(d, 1) == [6]


def test_go_near_misses_are_not_compile_errors(diagnoser: Diagnoser) -> None:
    """A lint finding with its linter's name and a passing package are no compile error."""
    for text in (
        "internal/server/server.go:42:12: Error return value of `conn.Close` is not checked (errcheck)",
        "ok  \tgithub.com/acme/widget/internal/store\t0.012s",
        "internal/store/db.go:12:3: // undeclared name handling is documented in README",
    ):
        assert "go-compile-error" not in diagnoser.kb.match_line(text.encode()), text


# --- 2. --baseline never promotes GitHub's step bookkeeping ------------------------------------

ENV = {"NODE_ENV": "test", "CI": "true", "GOFLAGS": "-mod=readonly"}


def _deploy_job(last_output: list[str], failed: bool) -> bytes:
    lines = [
        "##[group]Run actions/checkout@v4",
        "with:",
        "  repository: acme/widget",
        "##[endgroup]",
        *run_step("./scripts/deploy.sh", ENV),
        *last_output,
    ]
    if failed:
        lines.append("##[error]Process completed with exit code 1.")
    return gha_lines(*lines, "Post job cleanup.", "[command]/usr/bin/git version", "git version 2.43.0")


def _assert_no_bookkeeping(d: Diagnosis) -> None:
    assert d.excerpt is not None
    for n, text in d.excerpt_lines:
        assert not text.startswith(GHA_HEADER_LINES), (n, text)
    for e in d.error_lines:
        assert not e.text.startswith(GHA_HEADER_LINES), e


def test_baseline_demoting_all_output_keeps_the_step_header_out(diagnoser: Diagnoser, tmp_path: Path) -> None:
    """The step's only output line is in the passing run too: the baseline demotes it, the CI
    marker anchors the excerpt, and the header lines before it stay out (they ranked 2nd-6th)."""
    warning = "warning: the config key 'legacy' is deprecated; error handling falls back to defaults"
    fail = tmp_path / "fail.log"
    fail.write_bytes(_deploy_job([warning], failed=True))
    passing = tmp_path / "pass.log"
    passing.write_bytes(_deploy_job([warning, "deployed 3 services"], failed=False))
    d = analyze_path(str(fail), baseline=str(passing), diagnoser=diagnoser).diagnosis
    _assert_no_bookkeeping(d)
    warning_line = 13
    assert top_lines(d, 1) == [warning_line]
    assert d.excerpt is not None and (d.excerpt.start_line, d.excerpt.end_line) == (
        warning_line,
        warning_line,
    )


def test_step_without_output_has_the_marker_as_excerpt(diagnoser: Diagnoser, tmp_path: Path) -> None:
    """A step that printed nothing: the excerpt is the CI marker, with or without a baseline."""
    fail = tmp_path / "fail.log"
    fail.write_bytes(_deploy_job([], failed=True))
    passing = tmp_path / "pass.log"
    passing.write_bytes(_deploy_job(["deployed 3 services"], failed=False))
    marker = 13
    for baseline in (None, str(passing)):
        d = analyze_path(str(fail), baseline=baseline, diagnoser=diagnoser).diagnosis
        _assert_no_bookkeeping(d)
        assert d.excerpt is not None and (d.excerpt.start_line, d.excerpt.end_line) == (marker, marker)
        assert top_lines(d) == [marker]


def test_step_tail_keeps_output_inside_a_group_the_command_opened() -> None:
    """``echo ::group::`` output is the step's output, not its header: only the markers go."""
    texts = dict(
        enumerate(
            [
                "##[group]Run make dist",
                "make dist",
                "shell: /usr/bin/bash -e {0}",
                "##[endgroup]",
                "##[group]Packaging",
                "tar: dist/app: Cannot stat: No such file or directory",
                "tar: Exiting with failure status due to previous errors",
                "##[endgroup]",
                "##[error]Process completed with exit code 2.",
            ],
            start=1,
        )
    )
    assert step_tail(9, texts, [1]) == (6, 7)
    assert step_tail(5, {**texts, 5: "##[endgroup]"}, [1]) == (5, 5)  # header only: the marker
    assert is_bookkeeping("travis_time:end:0a1b2e:start=1,finish=2,duration=1")
    assert not is_bookkeeping("tar: Exiting with failure status due to previous errors")


# --- 3. CI harness lines do not outrank the failed command's output ------------------------------

TRAVIS_BREW = "\r\n".join(
    [
        "travis_fold:start:before_install.1",
        "travis_time:start:0a1b2c",
        "$ brew install openssl cmake",
        "Error: openssl 1.0.2o_2 is already installed",  # Homebrew < 2.0
        "To upgrade to 1.0.2r, run `brew upgrade openssl`",
        "Warning: cmake 3.28.1 is already installed and up-to-date.",  # Homebrew >= 2.0
        "To reinstall 3.28.1, run:",
        "  brew reinstall cmake",
        "travis_time:end:0a1b2c:start=1,finish=2,duration=1",
        "travis_fold:end:before_install.1",
        "travis_time:start:0a1b2e",
        "$ pwsh -c ./build.ps1",
        "Run ResGen (generating C# bindings for resx files)",
        "",
        "The build failed. Please fix the build errors and run again.",
        "Execution of { dotnet run } by build.psm1: line 1885 failed with exit code 1",
        "At /Users/travis/build/acme/app/build.psm1:2038 char:17",
        "travis_time:end:0a1b2e:start=1,finish=2,duration=1",
        "",
        'The command "pwsh -c ./build.ps1" exited with 1.',
        "",
        "Done. Your build exited with 1.",
    ]
)


def test_homebrew_already_installed_does_not_outrank_the_failure(diagnoser: Diagnoser) -> None:
    d = diagnose_bytes(TRAVIS_BREW.encode(), "job.log", diagnoser)
    assert d.log.format is LogFormat.TRAVIS
    brew = {4, 6}
    assert top_lines(d, 1) == [16], d.error_lines
    assert brew.isdisjoint(top_lines(d)), d.error_lines
    assert d.excerpt is not None and d.excerpt.start_line > 6


def test_homebrew_noise_pattern_follows_homebrew_wording(diagnoser: Diagnoser) -> None:
    """Both Homebrew wordings are noise; a real ``brew install`` failure is not."""
    noise = "noise.brew_installed"
    for text in (
        "Warning: cmake 3.28.1 is already installed and up-to-date.",
        "Error: openssl 1.0.2o_2 is already installed",
        "Error: openssl-1.0.2o_2 already installed",
    ):
        assert noise in diagnoser.scorer.score_text(text)[4], text
    for text in (
        'Error: No available formula with the name "opensll".',
        'Error: openssl: Failed to download resource "openssl"',
    ):
        assert noise not in diagnoser.scorer.score_text(text)[4], text


def test_post_job_cleanup_does_not_outrank_the_failed_command(diagnoser: Diagnoser) -> None:
    """GitHub's post steps (checkout's git clean-up, a cache save warning) come after the failed
    step's marker: the failed command's output stays first."""
    log = gha_lines(
        *run_step("npm test", ENV),
        "> widget@1.0.0 test",
        "> jest --ci",
        "FAIL src/b.test.js",
        "  \u25cf parse \u203a rejects empty input",
        "    expect(received).toThrow()",
        "    Received function did not throw",
        "Tests:       1 failed, 41 passed, 42 total",
        "##[error]Process completed with exit code 1.",
        "Post job cleanup.",
        "Warning: Failed to save: Unable to reserve cache with key node-cache-Linux-npm, another job may be creating this cache.",
        "[command]/usr/bin/git config --local --unset-all http.https://github.com/.extraheader",
        "Error: The process '/usr/bin/git' failed with exit code 128",
    )
    d = diagnose_bytes(log, "job.log", diagnoser)
    assert d.category is Category.TEST
    cleanup = set(range(17, 21))
    assert top_lines(d, 1) == [11], d.error_lines
    assert d.excerpt is not None and d.excerpt.end_line < 17
    assert cleanup.isdisjoint(top_lines(d, 3)), d.error_lines


def test_failing_post_step_does_not_outrank_a_weak_step_output(diagnoser: Diagnoser) -> None:
    """The failed step printed only weak lines; a post step (checkout's clean-up) then failed
    with strong-looking git errors. The failed step's output stays the excerpt and comes first."""
    log = gha_lines(
        *run_step("./scripts/check.sh", {}),
        "checking generated files",
        "docs/api.md is out of date",  # line 6
        "##[error]Process completed with exit code 1.",
        "Post job cleanup.",
        "##[warning]Failed to save: Unable to reserve cache with key go-mod-abc, another job may be creating this cache.",
        "Post job cleanup.",
        "[command]/usr/bin/git version",
        "git version 2.43.0",
        "##[error]fatal: could not read Username for 'https://github.com': terminal prompts disabled",
        "Error: The process '/usr/bin/git' failed with exit code 128",
    )
    d = diagnose_bytes(log, "job.log", diagnoser)
    assert top_lines(d, 1) == [6], d.error_lines
    assert d.excerpt is not None and (d.excerpt.start_line, d.excerpt.end_line) == (5, 6)
    assert set(range(8, 15)).isdisjoint(top_lines(d)), d.error_lines
