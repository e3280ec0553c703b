"""Line patterns of the environment a build runs in, plus generic words and noise.

The second half of ``LINE_PATTERNS`` (see :mod:`.patterns` for the table's rules and
sources): package managers and dependency resolution, CI systems and infrastructure,
generic error words (weak), and noise (lines that look like errors and also appear in
passing runs). Split from :mod:`.patterns` by theme; the order of the entries is kept, as
``LINE_PATTERNS`` is the first table followed by this one.
"""

from __future__ import annotations

from cimedic.analysis.diagnosis.line_pattern import Kind, LinePattern
from cimedic.model import Category

_C = Category
_K = Kind

ENVIRONMENT_PATTERNS: tuple[LinePattern, ...] = (
    # --- dependencies and package managers ----------------------------------------------
    LinePattern(
        "pip.no_version",
        r"Could not find a version that satisfies|No matching distribution found|ResolutionImpossible|conflicting dependencies",
        9.5,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "pip.errored",
        r"ERROR: Command errored out|subprocess-exited-with-error|Failed building wheel|error: legacy-install-failure|Failed to build \S+",
        8,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "npm.err",
        r"^npm ERR! (code|errno|\d+ error|ERESOLVE|404|peer|Could not resolve)",
        8,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern("npm.err_any", r"^npm ERR! ", 5, _K.ERROR),
    LinePattern(
        "yarn.error",
        r"^error (An unexpected error|Couldn't find|Command failed|Could not|\S+@\S+:)",
        8,
        _K.ERROR,
    ),
    LinePattern("node.elifecycle", r"ELIFECYCLE|ERR_PNPM_\w+", 4, _K.SUMMARY),
    LinePattern(
        "maven.resolve",
        r"Could not resolve dependencies|Could not find artifact|Could not transfer artifact|Failed to collect dependencies|Non-resolvable (parent|import) POM",
        9,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "gradle.resolve",
        r"Could not resolve all (files|dependencies|artifacts)|Could not resolve [\w.-]+:[\w.-]+|Could not find [\w.-]+:[\w.-]+:",
        9,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "go.mod",
        r"^go: .*(missing|unknown revision|not found|no matching versions|checksum mismatch|updates to go\.mod needed|inconsistent vendoring)|cannot find package|no required module provides",
        8.5,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "bundler",
        r"Bundler could not find|Could not find gem|Could not find \S+ in any of the sources|Your bundle is locked|Bundler::\w+Error|Gem::\w+Error|An error occurred while installing",
        9,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "composer",
        r"Your requirements could not be resolved|^\s*- Problem \d+|could not be resolved to an installable set",
        8.5,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "cargo.resolve",
        r"failed to select a version|failed to (load|download|fetch) |no matching package named",
        8.5,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "apt.error",
        r"^E: (Unable to locate package|Package .* has no installation candidate|Unable to fetch|Failed to fetch|Sub-process .* returned an error)",
        9,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "cocoapods",
        r"CocoaPods could not find compatible versions|None of your spec sources contain a spec|\[!\] ",
        8,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "conda",
        r"PackagesNotFoundError|UnsatisfiableError|ResolvePackageNotFound",
        9,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    LinePattern(
        "lockfile",
        r"lockfile .*(out of date|needs to be updated|would have been modified)|frozen[- ]lockfile|are not up-to-date|not in sync with",
        8.5,
        _K.ERROR,
        _C.DEPENDENCY,
    ),
    # --- CI systems, infrastructure -------------------------------------------------------
    LinePattern("gha.error_cmd", r"^::error\b", 8, _K.ERROR),
    LinePattern(
        "gha.process_exit", r"^##\[error\]Process completed with exit code [1-9]\d*", 2.5, _K.TERMINAL
    ),
    LinePattern("gha.error", r"^##\[error\]", 7.5, _K.ERROR),
    LinePattern(
        "gha.canceled",
        r"The operation was canceled|The job was canceled|Canceling since a higher priority",
        8,
        _K.TERMINAL,
        _C.CANCELLED,
    ),
    LinePattern(
        "gha.max_time",
        r"has exceeded the maximum execution time|timed out after \d+ minutes|The job running on runner .* has exceeded",
        9,
        _K.TERMINAL,
        _C.TIMEOUT,
    ),
    LinePattern(
        "gha.runner_lost",
        r"lost communication with the server|The runner has received a shutdown signal|The hosted runner encountered an error|runner .* (did not connect|lost)",
        9,
        _K.TERMINAL,
        _C.RUNNER_LOST,
    ),
    LinePattern("travis.exited", r'^The command ".*" (failed and )?exited with [1-9]\d*\.', 2.5, _K.TERMINAL),
    LinePattern(
        "travis.no_output", r"No output has been received in the last \d+m", 9, _K.TERMINAL, _C.TIMEOUT
    ),
    LinePattern("travis.max_time", r"The job exceeded the maximum time limit", 9, _K.TERMINAL, _C.TIMEOUT),
    LinePattern("travis.done", r"^Done\. Your build exited with [1-9]", 0.5, _K.CONTEXT),
    LinePattern("gitlab.job_failed", r"^ERROR: Job failed", 2.5, _K.TERMINAL),
    LinePattern(
        "gitlab.timeout", r"execution took longer than|Job's log exceeded limit", 9, _K.TERMINAL, _C.TIMEOUT
    ),
    LinePattern("jenkins.finished", r"^Finished: (FAILURE|UNSTABLE|ABORTED)", 1.5, _K.TERMINAL),
    LinePattern("jenkins.script_exit", r"script returned exit code [1-9]", 6, _K.SUMMARY),
    LinePattern(
        "jenkins.marked",
        r"marked build as failure|Build step .* failed|Build was aborted|Aborted by ",
        5,
        _K.SUMMARY,
    ),
    LinePattern(
        "exit.code",
        r"(exit(ed)? (code|status|with)|returned non-zero exit status|return code)[ :=]*[1-9]\d*",
        4,
        _K.SUMMARY,
    ),
    LinePattern(
        "oom.137", r"exit code 137|signal: killed|Killed$|oom[- _]?kill|OOMKilled", 8.5, _K.ERROR, _C.OOM
    ),
    LinePattern(
        "oom.msg",
        r"OutOfMemoryError|JavaScript heap out of memory|Cannot allocate memory|MemoryError|out of memory|std::bad_alloc",
        9,
        _K.ERROR,
        _C.OOM,
    ),
    LinePattern("exit.timeout", r"exit(ed)? (with|code|status):? ?124\b", 7, _K.ERROR, _C.TIMEOUT),
    LinePattern("segfault", r"Segmentation fault|core dumped|SIGSEGV|SIGABRT|Abort trap", 8.5, _K.ERROR),
    LinePattern(
        "timeout.generic",
        r"\btimed out\b|\btimeout (exceeded|expired|reached)\b|deadline exceeded|\bTimeoutError\b|TimeoutException",
        7,
        _K.ERROR,
        _C.TIMEOUT,
    ),
    LinePattern(
        "net.dns",
        r"Could not resolve host|Temporary failure in name resolution|Name or service not known|getaddrinfo (ENOTFOUND|EAI_AGAIN)|no such host|Unknown host",
        9,
        _K.ERROR,
        _C.NETWORK,
    ),
    LinePattern(
        "net.conn",
        r"Connection (refused|reset|timed out|closed)|ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|Network is unreachable|Failed to connect to|Read timed out|SocketTimeoutException|Broken pipe|unexpected EOF",
        8,
        _K.ERROR,
        _C.NETWORK,
    ),
    LinePattern(
        "net.tls",
        r"SSL(Error|_ERROR| routines)|certificate verify failed|TLS handshake timeout|handshake_failure|protocol_version",
        8,
        _K.ERROR,
        _C.NETWORK,
    ),
    LinePattern(
        "net.http5xx",
        r"\b(502 Bad Gateway|503 Service Unavailable|504 Gateway Time-?out|500 Internal Server Error)\b",
        7.5,
        _K.ERROR,
        _C.NETWORK,
    ),
    LinePattern(
        "rate.limit",
        r"API rate limit exceeded|secondary rate limit|toomanyrequests|429 Too Many Requests|rate limit(ed| exceeded)",
        9,
        _K.ERROR,
        _C.RATE_LIMIT,
    ),
    LinePattern(
        "disk.full",
        r"No space left on device|ENOSPC|disk quota exceeded|not enough (disk )?space",
        9.5,
        _K.ERROR,
        _C.DISK,
    ),
    LinePattern(
        "docker.daemon",
        r"Cannot connect to the Docker daemon|error during connect|docker: Error response from daemon",
        9,
        _K.ERROR,
        _C.INFRASTRUCTURE,
    ),
    LinePattern(
        "registry.pull",
        r"manifest unknown|pull access denied|error pulling image|manifest for \S+ not found|failed to (pull|push|resolve) (image|reference)|ImagePullBackOff|ErrImagePull",
        9,
        _K.ERROR,
        _C.REGISTRY,
    ),
    LinePattern(
        "perm.denied",
        r"Permission denied|EACCES|Resource not accessible by integration|403 Forbidden|\bunauthorized\b|Authentication failed|Bad credentials",
        7.5,
        _K.ERROR,
        _C.PERMISSIONS,
    ),
    LinePattern(
        "env.missing",
        r"(environment variable|env var|secret)s? \S*\s*(is )?(not set|not defined|missing|empty|required)|unbound variable|Input required and not supplied",
        8.5,
        _K.ERROR,
        _C.SECRETS_ENV,
    ),
    LinePattern(
        "workflow.invalid",
        r"Invalid workflow file|Unable to resolve action|Can't find 'action\.ya?ml'|Unexpected value '|is not valid YAML|mapping values are not allowed|Unrecognized named-value",
        9,
        _K.ERROR,
        _C.WORKFLOW_CONFIG,
    ),
    LinePattern(
        "cmd.notfound",
        r"command not found|: not found$|is not recognized as an internal or external command|No such file or directory",
        7.5,
        _K.ERROR,
    ),
    # --- generic words, weak ------------------------------------------------------------
    LinePattern("word.fatal", r"\bfatal\b", 5.5, caseless=True),
    LinePattern("word.ERROR", r"\bERROR\b|\[ERROR\]", 5.5),
    LinePattern("word.error_colon", r"\berror:", 6.5, caseless=True),
    LinePattern("word.error", r"\berror\b", 4, caseless=True),
    LinePattern("word.errors", r"\b[1-9]\d* errors?\b", 6, caseless=True),
    LinePattern("word.failed", r"\bfail(ed|ure|ing|s)?\b", 4, caseless=True),
    LinePattern("word.exception", r"\bexception\b", 4.5, caseless=True),
    LinePattern("word.panic", r"\bpanic", 5, caseless=True),
    LinePattern("word.cannot", r"\b(cannot|can't|could ?n[o']t|unable to|not able to)\b", 4.5, caseless=True),
    LinePattern("word.notfound", r"\bnot found\b|\bno such\b|\bdoes not exist\b", 4.5, caseless=True),
    LinePattern(
        "word.invalid",
        r"\b(invalid|unexpected|unknown|undefined|unresolved|unsupported|incompatible|mismatch)\b",
        3,
        caseless=True,
    ),
    LinePattern("word.missing", r"\bmissing\b", 3, caseless=True),
    LinePattern("word.denied", r"\bdenied\b|\bforbidden\b", 4, caseless=True),
    LinePattern("word.abort", r"\babort(ed|ing)?\b", 4, caseless=True),
    LinePattern(
        "word.expected",
        r"\bexpected\b.*\b(but|got|actual|found|was)\b|\bexpected:|\bactual:",
        6,
        caseless=True,
    ),
    LinePattern("word.diff", r"^[-+]{3} |^@@ ", 2, _K.CONTEXT),
    LinePattern("word.violation", r"\bviolations?\b", 4, caseless=True),
    # --- noise: looks like an error, appears in passing runs too ------------------------
    LinePattern(
        "noise.warning",
        r"\bwarning\b|\bwarn\b|\[WARNING\]|^W: |DEPRECAT|deprecated|Deprecation",
        -4,
        _K.NOISE,
        caseless=True,
    ),
    LinePattern(
        "noise.zero",
        r"\b(0|no) (errors?|failures?|failed|problems?|vulnerabilities)\b|\b(errors?|failures?|failed|skipped)[:=] ?0\b|Failures: 0, Errors: 0|\b0 failing\b",
        -6,
        _K.NOISE,
        caseless=True,
    ),
    LinePattern(
        "noise.identifier",
        r"[\w/-]*(error|fail)\w*\.(go|c|cc|cpp|h|hpp|js|ts|py|java|rb|o|log|html|class|rs|kt|php|scala|xml|json|ya?ml|txt|md)\b|-Werror|--fail-fast|fail_fast|failfast|--no-fail|error_reporting|ignore_errors|on_error|\berrexit\b|set -e|errorformat|ErrorProne|error-prone|errorprone|\bfailsafe\b|continue-on-error|allow_failure|Werror|\bonerror\b",
        -4.5,
        _K.NOISE,
        caseless=True,
    ),
    LinePattern(
        "noise.shell_echo",
        r"^\++ |^\$ |^> |^\[command\]|^##\[group\]|^##\[endgroup\]|^Run |^shell: |^env:",
        -5,
        _K.NOISE,
    ),
    LinePattern(
        "noise.progress",
        r"^(Downloading|Downloaded|Collecting|Requirement already satisfied|Installing|Fetching|Get:\d+|Hit:\d+|Unpacking|Setting up|Preparing to unpack|Selecting previously|Processing|Progress|Receiving|Resolving deltas|remote:)\b",
        -4,
        _K.NOISE,
    ),
    LinePattern(
        "noise.success",
        r"\b(passed|succeeded|success(ful(ly)?)?|ok)\b.*\b(0 failed|in [\d.]+s)|^ok\s+\S+|^PASS\b|^\s*(✓|√)|BUILD SUCCESS|Tests run: \d+, Failures: 0, Errors: 0",
        -5,
        _K.NOISE,
        caseless=True,
    ),
    LinePattern(
        "noise.generic_summary",
        r"see above|for more details|previous exit code|One or more tests failed|\btests? (has |have )?failed\.?$|\*\* (BUILD|TEST) FAILED \*\*|recipe for target|Error \d+( \(ignored\))?$|^npm ERR! (code|errno|Exit status|Failed at|This is (probably|most likely)|A complete log|Tell the author|You can get|npm ERR!\s*$)|^npm ERR!\s*$|^\s*at \S+ \(|unit tests failed|^Error: Process completed|^Error: The process|BUILD FAILED|BUILD FAILURE|Build failed|^FAILURE: Build failed|^\* Try:|Run with --(stacktrace|info|debug)|--scan to get|Get more help at|last command exited|Command failed with exit code|\" exited with \d+|exited with \$\?",
        -2.5,
        _K.NOISE,
        caseless=True,
    ),
    LinePattern(
        "noise.gtest",
        r"^\[ RUN +\]|^\[ +OK \]|^\[ +SKIPPED \]|\bskipped\b|\bskipping\b|\bSKIP(PED)?\b",
        -3,
        _K.NOISE,
    ),
    LinePattern(
        "noise.chromium", r"^\[\d+:\d+/\d+\.\d+:(ERROR|WARNING|INFO|VERBOSE\d*):[\w.]+\(\d+\)\]", -3, _K.NOISE
    ),
    LinePattern(
        "noise.retry",
        r"\b(retrying|will retry|retry(ing)? in|attempt \d+ of \d+|running it again|flaky test)\b",
        -2.5,
        _K.NOISE,
        caseless=True,
    ),
    LinePattern(
        "noise.test_name",
        r"test_?\w*(error|fail)\w*\s+(PASSED|ok|\.\.\. ok)|\btest\w*(Error|Fail)\w*\b.*\b(PASSED|passed|ok)\b",
        -6,
        _K.NOISE,
    ),
    # Homebrew's answer to "brew install X" when X is there: "Warning: X 1.2 is already
    # installed and up-to-date." (before Homebrew 2.0: "Error: X 1.2 is already installed",
    # "Error: already installed"): set-up output of the CI script, not its failure
    LinePattern(
        "noise.brew_installed",
        r"^(Warning|Error): \S+( \S+)? (is )?already installed\b",
        -6,
        _K.NOISE,
    ),
)
