"""Secret redaction (:mod:`cimedic.analysis.redact`) on real-looking samples of every kind, a
multi-line private key, and real log lines that must come out unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimedic.analysis.redact import redact

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

# (kind, line with the secret, the secret itself) -- formats as the vendors document them
# (example values from vendor docs where one exists, else random characters of the format).
SAMPLES = [
    (
        "github_token",
        "git push https://x@github.com token ghp_R2d7Vq9sXk3LmN8pQ4tY6wZ1aB5cD0eF7gH2 done",
        "ghp_R2d7Vq9sXk3LmN8pQ4tY6wZ1aB5cD0eF7gH2",
    ),
    (
        "github_token",
        "GH_TOKEN: github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    ),
    (
        "github_token",
        "using installation token ghs_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    ),
    ("aws_access_key", "2024-05-01T10:00:00Z AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    (
        "aws_secret_key",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "gcp_api_key",
        "curl 'https://maps.googleapis.com/maps/api/geocode/json?key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY'",
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    ),
    (
        "azure_storage_key",
        "DefaultEndpointsProtocol=https;AccountName=ci;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq",
    ),
    (
        "slack_token",
        "SLACK_BOT_TOKEN xoxb-2048123456-4096123456789-aBcDeFgHiJkLmNoPqRsTuVwX",
        "xoxb-2048123456-4096123456789-aBcDeFgHiJkLmNoPqRsTuVwX",
    ),
    (
        "slack_webhook",
        "posting to https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/abcdefghijklmnopqrstuvwx",
        "T0A1B2C3D/B4E5F6G7H/abcdefghijklmnopqrstuvwx",
    ),
    (
        "jwt",
        "id_token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ),
    (
        "auth_header",
        "> Authorization: Bearer 8f4b2e61c9d04a7b9e3f1a2c5d6e7f80",
        "8f4b2e61c9d04a7b9e3f1a2c5d6e7f80",
    ),
    (
        "auth_header",
        "curl -H 'Authorization: Basic dXNlcjpodW50ZXIyMDI0IQ==' https://nexus.example.com",
        "dXNlcjpodW50ZXIyMDI0IQ==",
    ),
    (
        "url_credentials",
        "Cloning into 'repo'... https://deploy-bot:S3cr3tPassw0rd@git.example.com/org/repo.git",
        "S3cr3tPassw0rd",
    ),
    ("url_credentials", "DATABASE_URL=postgresql://app:pg-pass-1234@db.internal:5432/app", "pg-pass-1234"),
    ("password", "export DB_PASSWORD=correct-horse-battery", "correct-horse-battery"),
    ("password", 'client_secret: "9aF3kLm2Qx7Zp1Rt"', "9aF3kLm2Qx7Zp1Rt"),
    ("password", "docker login --password hunter2024 registry.example.com", "hunter2024"),
    (
        "npm_token",
        "//registry.npmjs.org/:_authToken=npm_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
        "npm_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    ),
    (
        "pypi_token",
        "TWINE_PASSWORD pypi-AgEIcHlwaS5vcmcCJGI4YmNhMDA5LTg0ZGEtNDk5Yy1iZDk4LTAxMzIxMzY5MTRiNgACJXsicGVybWlzc2lvbnMiOiAidXNlciIsICJ2ZXJzaW9uIjogMX0",
        "pypi-AgEIcHlwaS5vcmcCJGI4YmNhMDA5",
    ),
    (
        "stripe_access_key",
        "STRIPE sk_live_4eC39HqLyjWDarjtT1zdp7dc in use",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ),
]


@pytest.mark.parametrize(
    ("kind", "line", "secret"), SAMPLES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SAMPLES)]
)
def test_each_kind_is_redacted(kind: str, line: str, secret: str) -> None:
    result = redact(line)
    assert secret not in result.text
    assert f"[REDACTED:{kind}]" in result.text
    assert kind in result.kinds
    assert result.count >= 1


def test_multi_line_private_key_block_is_one_marker() -> None:
    text = (
        "Run ./deploy.sh\n"
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
        "QyNTUxOQAAACDlYpDsVw1ZQ3nCQ1G7P9UvKqV2h2uXs1bCkq0aQm1xXwAAAJgAAAAA\n"
        "-----END OPENSSH PRIVATE KEY-----\n"
        "Error: Process completed with exit code 1.\n"
    )
    result = redact(text)
    assert "b3BlbnNzaC1rZXkt" not in result.text and "QyNTUxOQ" not in result.text
    assert (
        result.text == "Run ./deploy.sh\n[REDACTED:private_key]\nError: Process completed with exit code 1.\n"
    )
    assert result.kinds == ("private_key",) and result.count == 1


def test_unterminated_private_key_is_redacted_to_the_end() -> None:
    result = redact("ok\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\n")
    assert "MIIEow" not in result.text and result.text.startswith("ok\n[REDACTED:private_key]")


def test_masks_references_and_flags_are_left_alone() -> None:
    lines = [
        "  GITHUB_TOKEN: ***",
        "  password: ${{ secrets.DB_PASSWORD }}",
        "env TOKEN=$NPM_TOKEN npm publish",
        "  max_tokens=120 temperature=0",
        "--- FAIL: TestTokenRefresh (0.01s)",
        "go: downloading golang.org/x/oauth2 v0.21.0",
        "PWD=/home/runner/work/terraform/terraform",
        "secret: required",
        "Commit 3f786850e387550fdab836ed7e6dc881de23001b by dependabot",
    ]
    for line in lines:
        assert redact(line).text == line, line


def _real_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted(FIXTURES.glob("*.log")):
        lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
    return lines


def test_no_false_positives_on_real_fixture_logs() -> None:
    lines = _real_lines()
    assert len(lines) > 1000
    changed = [line for line in lines if redact(line).text != line]
    assert changed == []


def test_no_false_positives_on_logchunks_sample() -> None:
    root = SHARED / "logchunks"
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (the LogChunks dataset)")
    files = sorted(root.rglob("*.log"))[:40]
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
    result = redact(text)
    # the sample holds real test fixtures with credentials (URL passwords, a test RSA key):
    # those may be redacted; nothing else is: every change is a marker of a secret kind
    assert set(result.kinds) <= {
        "url_credentials",
        "private_key",
        "auth_header",
        "password",
        "aws_access_key",
    }
    assert result.text.count("\n") <= text.count("\n")
    changed = [
        (a, b)
        for a, b in zip(text.split("\n"), result.text.split("\n"), strict=False)
        if a != b and "REDACTED" not in b
    ]
    assert changed[:1] == [] or all("PRIVATE KEY" in a for a, _ in changed[:1])


def test_lines_and_count_are_kept() -> None:
    text = "line 1\nAKIAIOSFODNN7EXAMPLE and AKIAI44QH8DHBEXAMPLE\nline 3"
    result = redact(text)
    assert result.text.count("\n") == 2
    assert result.count == 2 and result.kinds == ("aws_access_key",)
