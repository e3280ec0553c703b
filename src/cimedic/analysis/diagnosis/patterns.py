"""Generic knowledge of CI tool output: which lines are errors, how strong, and which are noise.

Two tables:

* ``PREFILTER``: loose, case-insensitive keywords run over the raw bytes of the whole log
  (a multi-pattern scan; Hyperscan when installed). Only lines matching one of them are
  looked at closely, which keeps the analyzer fast on logs of hundreds of MB.
* ``LINE_PATTERNS``: precise patterns evaluated on a cleaned candidate line (no ANSI codes,
  no timestamp prefix). Each has a weight (0-10, how strongly it indicates the failure), a
  kind and an optional category hint. Negative weights mark noise that also appears in
  passing runs (deprecation warnings, echoed shell commands, "0 errors" summaries).

Sources of the rules: the error patterns of Mozilla Treeherder's log parser
(``treeherder/log_parser/parsers.py``), the failure summaries printed by the test runners and
build tools named in each entry (pytest, unittest, Maven Surefire, Gradle, go test, jest,
mocha, RSpec, cargo, dotnet, PHPUnit, ExUnit, TAP), and the CI-failure taxonomies of
"Why do GitHub Actions workflows fail?" and TELUS/FlakeRanker (ICSE-SEIP'25).
All patterns use the common subset of Python ``re`` and Hyperscan syntax (no look-arounds,
no back-references) so that both engines give the same answer.

The patterns of build and test tools (compilers, test runners, linters) are here; those of
the environment (package managers, CI systems, infrastructure), generic words and noise are in
:mod:`.patterns_env`. ``LINE_PATTERNS`` is both tables, in that order.
"""

from __future__ import annotations

from cimedic.analysis.diagnosis.evidence import classify
from cimedic.analysis.diagnosis.line_pattern import Kind, LinePattern
from cimedic.analysis.diagnosis.patterns_env import ENVIRONMENT_PATTERNS
from cimedic.model import Category

__all__ = ["LINE_PATTERNS", "PREFILTER", "Kind", "LinePattern", "is_marker_line", "pattern_index"]

_C = Category
_K = Kind

# Loose keywords for the raw-bytes prefilter (all case-insensitive).
PREFILTER: tuple[str, ...] = (
    r"\berr",
    r"error",
    r"fail",
    r"fatal",
    r"exception",
    r"panic",
    r"traceback",
    r"denied",
    r"cannot",
    r"can't",
    r"could not",
    r"couldn't",
    r"unable to",
    r"not found",
    r"no such",
    r"timed? ?out",
    r"killed",
    r"abort",
    r"cancel",
    r"exit code",
    r"exited with",
    r"exit status",
    r"non-zero",
    r"refused",
    r"unreachable",
    r"undefined",
    r"unresolved",
    r"missing",
    r"invalid",
    r"unexpected",
    r"expected",
    r"assert",
    r"not ok",
    r": \*\*\* ",
    r"\*\* \(",
    r"rate limit",
    r"too many",
    r"no space",
    r"out of memory",
    r"oom",
    r"segmentation",
    r"core dumped",
    r"violation",
    r"vulnerab",
    r"mismatch",
    r"did not",
    r"unknown",
    r"unsupported",
    r"problem",
    r"offense",
    r"would reformat",
    r"reformatted",
    r"conflicting",
    r"broken",
    r"incompatible",
    r"unauthori",
    r"forbidden",
    r"permission",
    r"no module named",
    r"\xe2\x97\x8f",  # "●" (jest)
    r"\xe2\x9c\x96",  # "✖"
    r"\xe2\x9c\x97",  # "✗"
    r"\xe2\x9c\x98",  # "✘"
    r"\xe2\x9d\x8c",  # "❌"
    r"illegal",
    r"not defined",
    r"(^|Z |\t)reason: ",
    r"no \w+ found",
    r"^diff --git",
    r"sanitizer",
    r"not available",
    r"not installed",
    r"is unused",
    r"\bE   ",
    r"\be: ",
    r"\w\.\w+:\d+:",  # file.ext:line: (compiler diagnostics, test locations)
    r"(^|Z |\t)\s*\d+\)( |$)",
    r"##\[",
    r"::(error|warning|group|endgroup)",
    r"section_(start|end):",
    r"travis_(fold|time):",
    r"\[Pipeline\]",
    r"\n\$ ",
    r"\r\$ ",
    r"\A\$ ",
    r"\[INFO\] --- ",
    r"> Task :",
    r"\bnot\b.{0,40}\bfound\b",
    r"\bstack ?trace",
    r"caused by",
    r"\bexpect",
    r"\bbut (was|got)\b",
)

_TOOL_PATTERNS: tuple[LinePattern, ...] = (
    # --- compilers and linkers ---------------------------------------------------------
    LinePattern("cc.diag", r"\S+:\d+:(\d+:)? (fatal )?error:", 9.5, _K.ERROR, _C.COMPILATION),
    LinePattern(
        "cc.diag2", r"\S+\(\d+(,\d+)?\): (fatal )?error( [A-Z]+\d+)?:", 9.5, _K.ERROR, _C.COMPILATION
    ),
    LinePattern("cc.fatal", r"fatal error:", 8.5, _K.ERROR, _C.COMPILATION),
    LinePattern("ts.error", r"error TS\d+:", 9.5, _K.ERROR, _C.TYPE_CHECK),
    LinePattern("msbuild.error", r": error [A-Z]{2,}\d+:", 9.5, _K.ERROR, _C.COMPILATION),
    LinePattern("rust.error", r"^error(\[E\d+\])?: ", 8.5, _K.ERROR, _C.COMPILATION),
    LinePattern("rust.could_not_compile", r"error: could not compile", 8, _K.SUMMARY, _C.COMPILATION),
    LinePattern(
        "link.undef",
        r"undefined reference to|undefined symbol|Undefined symbols for architecture",
        9,
        _K.ERROR,
        _C.COMPILATION,
    ),
    LinePattern(
        "link.ld",
        r"(^|\s)(ld|collect2|clang|gcc|g\+\+|cc1plus)(\.exe)?: (error|fatal)",
        8.5,
        _K.ERROR,
        _C.COMPILATION,
    ),
    LinePattern(
        "javac.symbol",
        r"cannot find symbol|incompatible types|cannot be applied to|does not override or implement|is not abstract and does not override",
        8.5,
        _K.ERROR,
        _C.COMPILATION,
    ),
    LinePattern(
        "maven.compile",
        r"^\[ERROR\] \S+\.(java|kt|scala|groovy):(\[\d+,\d+\]|\d+)",
        9.5,
        _K.ERROR,
        _C.COMPILATION,
    ),
    LinePattern(
        "maven.compilation_failure", r"COMPILATION ERROR|Compilation failure", 8, _K.SUMMARY, _C.COMPILATION
    ),
    LinePattern("kotlin.e", r"^e: \S+", 9, _K.ERROR, _C.COMPILATION),
    LinePattern(
        "java.file_line_error", r"^\S+\.(java|scala|groovy|kt):\d+: error", 9.5, _K.ERROR, _C.COMPILATION
    ),
    LinePattern("go.build", r"^(\./|\.\./)?[\w./-]+\.go:\d+:\d+: ", 8.5, _K.ERROR, _C.COMPILATION),
    LinePattern("swift.error", r"\.swift:\d+:\d+: error:", 9.5, _K.ERROR, _C.COMPILATION),
    LinePattern("py.syntax", r"\b(SyntaxError|IndentationError|TabError): ", 9, _K.ERROR, _C.COMPILATION),
    LinePattern("cmake.error", r"CMake Error", 9, _K.ERROR, _C.COMPILATION),
    LinePattern("cmake.notfound", r"Could NOT find \w+", 8, _K.ERROR, _C.DEPENDENCY),
    LinePattern("configure.error", r"^configure: error:", 9, _K.ERROR, _C.DEPENDENCY),
    LinePattern("ghc.error", r"\.hs:\d+:\d+: error", 9.5, _K.ERROR, _C.COMPILATION),
    LinePattern(
        "elixir.compile",
        r"\*\* \((CompileError|SyntaxError|TokenMissingError|KeyError|MatchError|ArgumentError|UndefinedFunctionError|RuntimeError|FunctionClauseError|ExUnit\.\w+)\)",
        9,
        _K.ERROR,
        _C.TEST,
    ),
    LinePattern("erlang.error", r"\{error,|\{badmatch,|\{undef,", 5, _K.ERROR),
    # rebar3 / erlang.mk xref: the answer ("M:F/A calls undefined function M:F/A") above the summary
    LinePattern(
        "erlang.xref",
        r"calls undefined function |is unused local function |calls deprecated function ",
        9,
        _K.ERROR,
        _C.COMPILATION,
    ),
    LinePattern("erlang.xref_failed", r"^(===> |ERROR: )?[Xx]ref failed", 6.5, _K.SUMMARY, _C.COMPILATION),
    LinePattern("php.fatal", r"PHP (Fatal|Parse) error|^(Fatal|Parse) error: ", 9, _K.ERROR, _C.COMPILATION),
    LinePattern("dotnet.build_failed", r"Build FAILED\.", 7.5, _K.SUMMARY, _C.COMPILATION),
    LinePattern("sbt.error", r"^\[error\] \S+\.(scala|java):\d+", 9.5, _K.ERROR, _C.COMPILATION),
    LinePattern("sbt.error_any", r"^\[error\] ", 6.5, _K.ERROR),
    LinePattern("ninja.stopped", r"ninja: build stopped|FAILED: \S+", 7, _K.SUMMARY, _C.COMPILATION),
    LinePattern("make.error", r"make(\[\d+\])?: \*\*\* ", 4.5, _K.SUMMARY),
    LinePattern(
        "asan",
        r"==\d+==ERROR: \w+Sanitizer|runtime error: |WARNING: ThreadSanitizer|ERROR: LeakSanitizer",
        9.5,
        _K.ERROR,
    ),
    LinePattern("ct.failed_on_line", r"failed on line \d+|^Reason: ", 8, _K.ERROR, _C.TEST),
    LinePattern("diff.git", r"^diff --git ", 5.5, _K.ERROR, _C.LINT),
    LinePattern(
        "word.illegal",
        r"\bexceed(s|ed)?\b|\billegal\b|\bnot defined\b|\bno \w+ found\b|\bnot (allowed|permitted|supported)\b",
        5,
        caseless=True,
    ),
    LinePattern("scalatest.failed", r"\*\*\* FAILED \*\*\*|\*\*\* ABORTED \*\*\*", 9.5, _K.ERROR, _C.TEST),
    LinePattern("elixir.raise", r"^\s*\*\* \((throw|exit|\w+Error|\w+Exception)\)", 9, _K.ERROR),
    LinePattern(
        "word.not_available",
        r"\bnot (available|installed)\b|\berrors? found\b|\bis unused\b",
        5.5,
        caseless=True,
    ),
    LinePattern("xctest.summary", r"Executed \d+ tests?, with [1-9]\d* failures?", 5, _K.SUMMARY, _C.TEST),
    LinePattern("minitest.header", r"^(Failure|Error):$", 8.5, _K.ERROR, _C.TEST),
    LinePattern("make.noRule", r"No rule to make target", 8.5, _K.ERROR, _C.COMPILATION),
    LinePattern("xcode.failed", r"\*\* (BUILD|TEST|ARCHIVE) FAILED \*\*", 5, _K.SUMMARY),
    LinePattern("xcodebuild.error", r"xcodebuild: error:", 9, _K.ERROR, _C.COMPILATION),
    # --- tests -------------------------------------------------------------------------
    LinePattern("pytest.failed", r"^FAILED \S+::\S+", 9.5, _K.ERROR, _C.TEST),
    LinePattern("pytest.error_item", r"^ERROR \S+(::| - )", 9, _K.ERROR, _C.TEST),
    LinePattern("pytest.E", r"^E {2,}\S", 8.5, _K.ERROR, _C.TEST),
    LinePattern("pytest.summary", r"=+ .*\b\d+ (failed|errors?)\b.* in [\d.]+s", 7.5, _K.SUMMARY, _C.TEST),
    LinePattern("pytest.header", r"^_{3,} \S.* _{3,}$", 5, _K.CONTEXT, _C.TEST),
    LinePattern("py.location", r"^\S+\.py:\d+: \w*(Error|Exception|Failed)\b", 9, _K.ERROR, _C.TEST),
    LinePattern("unittest.fail", r"^(FAIL|ERROR): \w+ \(", 9.5, _K.ERROR, _C.TEST),
    LinePattern("unittest.summary", r"^FAILED \((failures|errors)=\d+", 8, _K.SUMMARY, _C.TEST),
    LinePattern("py.traceback", r"^\s*Traceback \(most recent call last\):", 7, _K.ERROR),
    LinePattern("py.exception", r"^(\w+\.)*\w*(Error|Exception|Failure|Interrupt|Exit): ", 8.5, _K.ERROR),
    LinePattern("py.exception_bare", r"^(\w+\.)*\w*(Error|Exception)$", 7, _K.ERROR),
    LinePattern(
        "py.modulenotfound", r"ModuleNotFoundError|No module named|ImportError: ", 9, _K.ERROR, _C.DEPENDENCY
    ),
    LinePattern(
        "assert.error",
        r"AssertionError|AssertionFailedError|ComparisonFailure|assert_equal|expected:? ?<.*> but was:? ?<|Expected: .*|expected .* (to|but) ",
        8,
        _K.ERROR,
        _C.TEST,
    ),
    LinePattern(
        "assert.generic",
        r"\bassert(ion)? ?(failed|failure)\b|Assertion failed|\bassert\w*\(.*\) failed",
        8.5,
        _K.ERROR,
        _C.TEST,
    ),
    LinePattern("surefire.failure", r"<<< (FAILURE|ERROR)!", 9.5, _K.ERROR, _C.TEST),
    LinePattern(
        "surefire.tests_run",
        r"Tests run: \d+, Failures: [1-9]|Tests run: \d+, Failures: \d+, Errors: [1-9]",
        7,
        _K.SUMMARY,
        _C.TEST,
    ),
    LinePattern(
        "surefire.failed_tests",
        r"^(\[ERROR\] )?(Failed tests|Tests in error|Failures|Errors): *$",
        6,
        _K.SUMMARY,
        _C.TEST,
    ),
    LinePattern("surefire.item", r"^\[ERROR\] {2,}\S+[.:]\S+", 8.5, _K.ERROR, _C.TEST),
    LinePattern("surefire.item2", r"^ {2}\w+\(\S+\)(: .*)?$", 6, _K.ERROR, _C.TEST),
    LinePattern("maven.goal", r"Failed to execute goal", 6, _K.SUMMARY),
    LinePattern("maven.build_failure", r"BUILD FAILURE", 6.5, _K.SUMMARY),
    LinePattern("maven.there_are_failures", r"There (are|were) test failures", 8, _K.SUMMARY, _C.TEST),
    LinePattern("gradle.what_went_wrong", r"^\* What went wrong:", 8.5, _K.SUMMARY),
    LinePattern("gradle.exec_failed", r"Execution failed for task", 8.5, _K.ERROR),
    LinePattern(
        "gradle.build_failed", r"FAILURE: Build failed with an exception|BUILD FAILED", 7, _K.SUMMARY
    ),
    LinePattern("gradle.task_failed", r"> Task :\S+ FAILED", 8, _K.SUMMARY),
    LinePattern("gradle.test_failed", r"^\S+ > \S.* FAILED$", 9.5, _K.ERROR, _C.TEST),
    LinePattern("gradle.tests_completed", r"\d+ tests? completed, \d+ failed", 8, _K.SUMMARY, _C.TEST),
    LinePattern("go.fail", r"^\s*--- FAIL: ", 9.5, _K.ERROR, _C.TEST),
    LinePattern(
        "go.fail_pkg", r"^FAIL\s+\S+\s+[\d.]+s$|^FAIL\s+\S+ \[(build|setup) failed\]", 8, _K.SUMMARY, _C.TEST
    ),
    LinePattern("go.fail_bare", r"^FAIL$", 5, _K.SUMMARY, _C.TEST),
    LinePattern("go.panic", r"^panic: |^fatal error: |^goroutine \d+ \[running\]", 9, _K.ERROR),
    LinePattern("go.test_loc", r"^\s+\S+_test\.go:\d+: ", 8, _K.ERROR, _C.TEST),
    LinePattern("jest.bullet", "^\\s*\u25cf ", 9.5, _K.ERROR, _C.TEST),
    LinePattern("jest.fail", r"^FAIL \S+", 8.5, _K.ERROR, _C.TEST),
    LinePattern("jest.summary", r"^Tests?:\s+\d+ failed", 6, _K.SUMMARY, _C.TEST),
    LinePattern("mocha.failing", r"^\s*\d+ failing", 5.5, _K.SUMMARY, _C.TEST),
    LinePattern("mocha.item", r"^\s{0,4}\d+\) \S|^\s{0,4}\d+\)$", 8, _K.ERROR, _C.TEST),
    LinePattern("cross.mark", "(^|\\s)[\u2716\u2717\u2718\u00d7\u274c]\\s+\\S", 7.5, _K.ERROR, _C.TEST),
    LinePattern("rspec.failure_error", r"Failure/Error:", 9.5, _K.ERROR, _C.TEST),
    LinePattern("rspec.rerun", r"^rspec \./\S+:\d+", 9, _K.ERROR, _C.TEST),
    LinePattern("rspec.summary", r"\d+ examples?, [1-9]\d* failures?", 8, _K.SUMMARY, _C.TEST),
    LinePattern(
        "minitest.summary",
        r"\d+ (runs|tests), \d+ assertions, [1-9]\d* (failures|errors)|\d+ (runs|tests), \d+ assertions, \d+ failures, [1-9]\d* errors",
        8,
        _K.SUMMARY,
        _C.TEST,
    ),
    LinePattern("minitest.failure", r"^\s*\d+\) (Failure|Error):", 9.5, _K.ERROR, _C.TEST),
    LinePattern("exunit.item", r"^\s*\d+\) (test|doctest|property) .*\([\w.]+\)$", 9.5, _K.ERROR, _C.TEST),
    LinePattern(
        "exunit.summary",
        r"\d+ (tests|doctests|properties)?,? .*\b[1-9]\d* failures?\b",
        6,
        _K.SUMMARY,
        _C.TEST,
    ),
    LinePattern("cargo.test_failed", r"^test \S+ \.\.\. FAILED", 9.5, _K.ERROR, _C.TEST),
    LinePattern("cargo.result", r"test result: FAILED", 8, _K.SUMMARY, _C.TEST),
    LinePattern("rust.panicked", r"panicked at ", 9, _K.ERROR, _C.TEST),
    LinePattern(
        "dotnet.failed",
        r"^\s*Failed \S+ \[[\d.]+ ?m?s\]|^\s*Failed \S+\.\S+$|^X \S+ \[\d+",
        9.5,
        _K.ERROR,
        _C.TEST,
    ),
    LinePattern(
        "dotnet.summary",
        r"Failed!\s+- Failed:\s+[1-9]|Total tests: \d+.*Failed: [1-9]",
        8,
        _K.SUMMARY,
        _C.TEST,
    ),
    LinePattern("dotnet.error_message", r"^\s*Error Message:", 8.5, _K.ERROR, _C.TEST),
    LinePattern("phpunit.header", r"^There (was|were) \d+ (failure|error)s?:", 6, _K.SUMMARY, _C.TEST),
    LinePattern("phpunit.item", r"^\d+\) [\w\\]+::\w+", 9, _K.ERROR, _C.TEST),
    LinePattern(
        "phpunit.summary",
        r"^FAILURES!$|^ERRORS!$|^Tests: \d+, Assertions: \d+, (Errors|Failures): [1-9]",
        8,
        _K.SUMMARY,
        _C.TEST,
    ),
    LinePattern("php.test_fail", r"^FAIL .*\[\S+\.phpt\]", 9, _K.ERROR, _C.TEST),
    LinePattern("tap.not_ok", r"^\s*not ok \d+", 8.5, _K.ERROR, _C.TEST),
    LinePattern("prove.failed", r"Failed \d+/\d+ (test|subtest)|Result: FAIL", 5.5, _K.SUMMARY, _C.TEST),
    LinePattern(
        "prove.dubious", r"Dubious, test returned|^\S+\.t \.+ \S.*(error|fail|not ok)", 8, _K.SUMMARY, _C.TEST
    ),
    LinePattern(
        "test.failed_generic",
        r"\b(test|spec|example)s? (failed|failures?)\b|\b[1-9]\d* (tests?|specs?|examples?) failed\b|\bfailed tests?\b",
        7.5,
        _K.SUMMARY,
        _C.TEST,
    ),
    LinePattern("test.fail_word", r"^\s*(FAIL|FAILED|FAILURE)\b", 7.5, _K.ERROR, _C.TEST),
    LinePattern(
        "r.check",
        r"^\s*Running the tests in .* failed\.|^\* checking .* \.\.\. ERROR|^Status: \d+ ERRORs?",
        8.5,
        _K.ERROR,
        _C.TEST,
    ),
    LinePattern("r.error_in", r"^Error in \S+|^Error: ", 8, _K.ERROR),
    LinePattern("java.exception_in_thread", r"^Exception in thread ", 9, _K.ERROR),
    LinePattern("java.exception", r"^(\w+\.)+\w*(Exception|Error)(: |$)", 8.5, _K.ERROR),
    # a JVM test framework's own assertion class at the start of the line: the failing test's
    # message, which outranks an exception the code under test logged earlier (JUnit 4/5 and
    # opentest4j; Hamcrest, TestNG and plain `assert` throw java.lang.AssertionError; AssertJ)
    LinePattern(
        "junit.assertion",
        r"^(org\.opentest4j\.AssertionFailedError|org\.junit\.(ComparisonFailure|AssertionFailedError)"
        r"|junit\.framework\.(AssertionFailedError|ComparisonFailure)|java\.lang\.AssertionError"
        r"|org\.assertj\.\S*Error|org\.opentest4j\.MultipleFailuresError)(: |$)",
        10,
        _K.ERROR,
        _C.TEST,
    ),
    LinePattern("java.caused_by", r"^Caused by: ", 7, _K.ERROR),
    LinePattern("stack.java_frame", r"^\s+at [\w.$<>/]+\(.*\)$", 0.5, _K.CONTEXT),
    LinePattern("stack.js_frame", r"^\s+at .*(\(.*:\d+:\d+\)|:\d+:\d+)$", 0.5, _K.CONTEXT),
    LinePattern("stack.py_frame", r'^\s+File ".*", line \d+', 1, _K.CONTEXT),
    LinePattern("js.error", r"^(\w*Error|Error): ", 8.5, _K.ERROR),
    LinePattern(
        "js.cannot_find_module", r"Cannot find module|Module not found: Error", 9, _K.ERROR, _C.DEPENDENCY
    ),
    LinePattern("js.unhandled", r"UnhandledPromiseRejection|Unhandled (promise )?rejection", 8, _K.ERROR),
    # --- lint, format, types, security -----------------------------------------------------
    LinePattern("eslint.summary", r"\d+ problems? \(\d+ errors?", 8.5, _K.SUMMARY, _C.LINT),
    LinePattern("eslint.line", r"^\s+\d+:\d+\s+error\s+", 9, _K.ERROR, _C.LINT),
    LinePattern("flake8.line", r"^\S+\.py:\d+:\d+: [A-Z]{1,3}\d{2,4} ", 9, _K.ERROR, _C.LINT),
    LinePattern("mypy.line", r"^\S+\.pyi?:\d+: error: ", 9.5, _K.ERROR, _C.TYPE_CHECK),
    LinePattern("mypy.summary", r"^Found \d+ errors? in \d+ files?", 8.5, _K.SUMMARY, _C.TYPE_CHECK),
    LinePattern(
        "black.reformat", r"^would reformat |files? would be reformatted|^Oh no! ", 9, _K.ERROR, _C.LINT
    ),
    LinePattern(
        "rubocop.offenses", r"\d+ offenses? detected|^\S+\.rb:\d+:\d+: [CWEF]: ", 8.5, _K.ERROR, _C.LINT
    ),
    LinePattern(
        "checkstyle",
        r"\[checkstyle\]|checkstyle violations?|You have \d+ Checkstyle violations?|\[(ERROR|WARN)\] \S+\.java:\d+(:\d+)?: .*\[\w+\]$",
        8.5,
        _K.ERROR,
        _C.LINT,
    ),
    LinePattern(
        "lint.generic",
        r"\blint(er|ing)? (failed|errors?)\b|\bstyle (check|violation)s? failed",
        7.5,
        _K.ERROR,
        _C.LINT,
    ),
    LinePattern(
        "gofmt",
        r"^(diff|---|\+\+\+) \S+\.go(\.orig)?\b|go(fmt|imports) .*(needs?|would) ",
        5,
        _K.ERROR,
        _C.LINT,
    ),
    LinePattern("shellcheck", r"SC\d{4}", 7, _K.ERROR, _C.LINT),
    LinePattern(
        "audit.vuln",
        r"found \d+ vulnerabilit|\d+ vulnerabilities? found|Total: \d+ \(.*CRITICAL: [1-9]|known vulnerabilit",
        8,
        _K.ERROR,
        _C.SECURITY_SCAN,
    ),
)

LINE_PATTERNS: tuple[LinePattern, ...] = _TOOL_PATTERNS + ENVIRONMENT_PATTERNS


def pattern_index() -> dict[str, LinePattern]:
    """Line patterns by id."""
    return {p.id: p for p in LINE_PATTERNS}


# per-test failure markers of test runners: they name the failed test, not what went wrong
_TEST_MARKERS = frozenset(
    {
        "go.fail",
        "pytest.failed",
        "pytest.error_item",
        "unittest.fail",
        "jest.fail",
        "jest.bullet",
        "mocha.item",
        "surefire.failure",
        "surefire.item",
        "surefire.item2",
        "gradle.test_failed",
        "cargo.test_failed",
        "dotnet.failed",
        "tap.not_ok",
        "phpunit.item",
        "php.test_fail",
        "exunit.item",
        "minitest.failure",
        "minitest.header",
        "scalatest.failed",
        "rspec.rerun",
    }
)
_SUMMARIES = frozenset(p.id for p in LINE_PATTERNS if p.kind in (Kind.SUMMARY, Kind.TERMINAL))


def is_marker_line(text: str, pattern_ids: tuple[str, ...]) -> bool:
    """True for a runner's summary or per-test marker line (``FAIL pkg 0.1s``, ``3 failed``,
    ``Tests run: 5, Failures: 1``, ``--- FAIL: TestX``) that is no deterministic evidence
    (:func:`cimedic.analysis.diagnosis.evidence.classify`): it says that, not why, it failed."""
    return bool(_SUMMARIES.intersection(pattern_ids) or _TEST_MARKERS.intersection(pattern_ids)) and (
        classify(text) is None
    )
