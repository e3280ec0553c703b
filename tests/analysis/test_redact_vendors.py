"""Secret redaction on the vendor corpus (``tests/fixtures/secrets/corpus.json``: 111 synthetic
secrets of the formats gitleaks' rules describe, each in a log line), the command-line
passwords (``docker login -p``, ``mysql -pSECRET``, ``sshpass -p``, ``curl -u``), the
detect-secrets plugins whose regex captures only a prefix (GitLab), no new false positive on the
real logs of the repository, and redaction before the clustering masks."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from cimedic.analysis.cluster_text import normalise, readable_line
from cimedic.analysis.diagnosis.text import mask
from cimedic.analysis.redact import _VENDOR_RUN, VENDOR_PATTERNS, redact

ROOT = Path(__file__).resolve().parents[2]
CORPUS = json.loads((ROOT / "tests" / "fixtures" / "secrets" / "corpus.json").read_text(encoding="utf-8"))
MARKER = re.compile(r"\[REDACTED:[a-z0-9_]+\]")


def leaked(secret: str, text: str, window: int = 8) -> list[str]:
    """The ``window``-character pieces of ``secret`` (as written, or with its digits masked to
    ``N``) still in ``text`` once the markers are removed."""
    rest = MARKER.sub(" ", text)
    forms = {secret, re.sub(r"\d", "N", secret)}
    return sorted(
        {f[i : i + window] for f in forms for i in range(len(f) - window + 1) if f[i : i + window] in rest}
    )


@pytest.mark.parametrize("row", CORPUS, ids=[r["vendor"] for r in CORPUS])
def test_every_vendor_format_of_the_corpus_is_redacted(row: dict[str, str]) -> None:
    result = redact(row["line"])
    assert result.count >= 1, row["vendor"]
    assert leaked(row["secret"], result.text) == [], result.text


def test_the_corpus_covers_every_vendor_pattern() -> None:
    kinds = {kind for row in CORPUS for kind in redact(row["line"]).kinds}
    assert {kind for kind, _anchors, _rx in VENDOR_PATTERNS} <= kinds
    assert len(CORPUS) >= 100 and len({r["vendor"] for r in CORPUS}) == len(CORPUS)


def test_every_match_holds_an_anchor_inside_a_token_run() -> None:
    """A vendor pattern runs only when one of its anchors is in a run of token characters of the
    text (``_VENDOR_RUN``): every match of the corpus must lie in such a run with an anchor."""
    matched = set()
    for kind, anchors, rx in VENDOR_PATTERNS:
        assert anchors and all(anchors), kind
        for row in CORPUS:
            runs = _VENDOR_RUN.findall(row["line"])
            for m in re.finditer(rx, row["line"]):
                matched.add(kind)
                assert any(m.group(0) in run and any(a in run for a in anchors) for run in runs), (
                    kind,
                    m.group(0),
                )
    assert matched == {kind for kind, _a, _rx in VENDOR_PATTERNS}


@pytest.mark.parametrize(
    ("line", "secret", "kept"),
    [
        (
            "+ docker login -u ci -p Xk9vL2mQ8rT4 registry.example.com",
            "Xk9vL2mQ8rT4",
            "docker login -u ci -p ",
        ),
        ("docker login --username ci --password Xk9vL2mQ8rT4 ghcr.io", "Xk9vL2mQ8rT4", "--password "),
        ("podman login quay.io -u bot --password=Xk9vL2mQ8rT4", "Xk9vL2mQ8rT4", "--password="),
        ("helm registry login -u bot -p Xk9vL2mQ8rT4 oci.example.com", "Xk9vL2mQ8rT4", " -p "),
        ("mysql -h db -u root -pS3cr3tPw9x -e 'select 1'", "S3cr3tPw9x", "-u root -p"),
        ("mysqldump -uroot -p'S3cr3tPw9x' app", "S3cr3tPw9x", "-p'"),
        ("mariadb --user=root --password=S3cr3tPw9x", "S3cr3tPw9x", "--password="),
        ("sshpass -p S3cr3tPw9x ssh deploy@10.0.0.5", "S3cr3tPw9x", "sshpass -p "),
        ("curl -sSf -u deploy:S3cr3tPw9x https://nexus.example.com/x", "S3cr3tPw9x", "-u deploy:"),
    ],
)
def test_command_line_passwords(line: str, secret: str, kept: str) -> None:
    result = redact(line)
    assert secret not in result.text and kept in result.text and result.count == 1, result


@pytest.mark.parametrize(
    "line",
    [
        "mysql -u root -p app",  # a prompt: "app" is the database
        "mysql -u root -p$MYSQL_ROOT_PASSWORD -e 'select 1'",
        "docker login -u ci -p ${{ secrets.DOCKER_PASSWORD }} ghcr.io",
        'docker login -u ci -p "$DOCKER_PASSWORD" ghcr.io',
        "echo $PASS | docker login -u ci --password-stdin ghcr.io",
        "docker run -p 8080:80 nginx",
        "curl -u $USER:$TOKEN https://example.com",
        "mvn -pl core -P release deploy",
        "Downloading https://repo.maven.apache.org/maven2/org/apache/maven/api/maven-api-core/4.0.0/x.pom",
        "task-runner disk-usage pat.yml sk-learn ico-font dapi.example.com",
        "    token = ref1[j];",  # code in real CI logs (bench/redaction.py samples)
        "== 20130625170842 RemoveAccessPassword: migrating =====",
        "Acceptance: Forgot password::requesting password reset",
        'return R.appendParams(this.pollEndpoint,{token:this.token})}},{key:"closeAndRetry"',
    ],
)
def test_commands_and_code_without_a_secret_are_left_alone(line: str) -> None:
    assert redact(line).text == line


def test_gitlab_tokens_are_redacted_whole_not_only_their_prefix() -> None:
    """detect-secrets' GitLab regex captures ``(glpat|gldt|...)``: its ``analyze_string`` yields
    the prefix only, which is shorter than 8 characters, so the token stayed."""
    for token in ("glpat-Ab3dEf6hIj9kLm2nOp5q", "gldt-Ab3dEf6hIj9kLm2nOp5q", "glrt-Ab3dEf6hIj9kLm2nOp5q"):
        result = redact(f"export CI_TOKEN {token} # from vault")
        assert token not in result.text and "Ab3dEf6h" not in result.text
        assert result.kinds == ("gitlab_token",)


def _repository_logs() -> list[tuple[str, str]]:
    logs = [
        (p.name, p.read_text(encoding="utf-8", errors="replace"))
        for p in sorted((ROOT / "tests" / "fixtures" / "logs").glob("*.log"))
    ]
    demo = ROOT / "src" / "cimedic" / "testing" / "demo_data" / "logs"
    for p in sorted(demo.glob("*.log.gz")):
        logs.append((p.name, gzip.decompress(p.read_bytes()).decode("utf-8", errors="replace")))
    return logs


def test_no_redaction_on_the_repository_logs() -> None:
    logs = _repository_logs()
    assert len(logs) >= 8
    for name, text in logs:
        result = redact(text)
        assert result.count == 0 and result.text == text, (name, result.kinds)


# Formats found by their digits: a Telegram bot token (detect-secrets: \d{8,10}:...), a Square
# OAuth secret (sq0csp-), a DigitalOcean token (dop_v1_ + 64 hex). The masks turn digits into N
# and hex runs into placeholders, after which no pattern knows the rest of the secret: it only
# stays hidden when redaction comes first.
TELEGRAM = "5829301746:AAHfkLq1ZpX9vW3mB7nR2tY6uI8oP0aS4dD"
PARTLY_MASKED = [
    f"curl -fsS https://api.telegram.org/bot{TELEGRAM}/sendMessage failed: 401 Unauthorized",
    "Error: square refused sq0csp-DkrWLuqIA1idN4VwND7xQ2zR8sT5uV0wX3yZ6aB9cD1eF rejected with 401",
    "doctl: Unable to authenticate with dop_v1_" + "7f3a9c1e5b2d8f4a" * 4 + " (401)",
]


@pytest.mark.parametrize("line", PARTLY_MASKED)
def test_normalise_redacts_before_it_masks(line: str) -> None:
    secret = next(w for w in re.split(r"[\s/]|bot", line) if len(w) >= 30)
    masked_first = redact(mask(line)).text  # the order this fixes
    assert leaked(secret, masked_first), "the case must be one a mask partly hits"
    for text in (normalise(line), readable_line(line)):
        assert "[REDACTED:" in text and leaked(secret, text) == [], text
