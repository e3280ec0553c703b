"""GitHub authentication: tokens, GitHub App JWTs and installation tokens (with an injected clock)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cimedic.connectors.github_actions.auth import AppAuth, TokenAuth, auth_from_settings
from cimedic.connectors.github_actions.client import GitHubClient
from cimedic.connectors.github_actions.http import GitHubError

API = "https://api.github.com"
NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeApp:
    """``POST /app/installations/{id}/access_tokens`` and ``GET /repos/{o}/{r}/installation``
    as GitHub answers them ("Generating an installation access token for a GitHub App")."""

    def __init__(self, key: rsa.RSAPrivateKey, clock: Clock, lifetime: float = 3600.0) -> None:
        self.public = key.public_key()
        self.clock = clock
        self.lifetime = lifetime
        self.issued = 0
        self.requests: list[httpx.Request] = []
        self.claims: list[dict[str, object]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        scheme, _, token = request.headers["authorization"].partition(" ")
        assert scheme == "Bearer"
        claims = jwt.decode(
            token, self.public, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
        )
        self.claims.append(claims)
        path = request.url.path
        if request.method == "POST" and path == "/app/installations/42/access_tokens":
            self.issued += 1
            body = {
                "token": f"ghs_token{self.issued}",
                "expires_at": iso(self.clock.now + self.lifetime),
                "permissions": {"actions": "read", "metadata": "read"},
                "repository_selection": "all",
            }
            return httpx.Response(201, json=body)
        if request.method == "GET" and path == "/repos/octo-org/octo-repo/installation":
            return httpx.Response(200, json={"id": 42, "app_id": 1, "target_type": "Organization"})
        if path == "/repos/octo-org/elsewhere/installation":
            return httpx.Response(
                404,
                json={
                    "message": "Not Found",
                    "documentation_url": "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app",
                },
            )
        return httpx.Response(401, json={"message": "Bad credentials"})


def app_auth(
    key: rsa.RSAPrivateKey, pem: str, installation: str | None = "42", lifetime: float = 3600.0
) -> tuple[AppAuth, FakeApp, Clock]:
    clock = Clock()
    fake = FakeApp(key, clock, lifetime)
    http = httpx.Client(transport=httpx.MockTransport(fake))
    return AppAuth("12345", pem, installation, http, API, clock=clock), fake, clock


def test_token_auth_header_and_repr() -> None:
    auth = TokenAuth("ghp_abc")
    assert auth.headers() == {"Authorization": "Bearer ghp_abc"}
    assert "ghp_abc" not in repr(auth)
    with pytest.raises(ValueError, match="empty"):
        TokenAuth("")


def test_app_jwt_claims(key: rsa.RSAPrivateKey, pem: str) -> None:
    auth, _, _ = app_auth(key, pem)
    claims = jwt.decode(
        auth.app_jwt(),
        key.public_key(),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {"iat": int(NOW) - 60, "exp": int(NOW) + 540, "iss": "12345"}
    assert jwt.get_unverified_header(auth.app_jwt())["alg"] == "RS256"


def test_installation_token_is_exchanged_cached_and_refreshed(key: rsa.RSAPrivateKey, pem: str) -> None:
    auth, fake, clock = app_auth(key, pem)
    assert auth.headers() == {"Authorization": "Bearer ghs_token1"}
    request = fake.requests[0]
    assert (request.method, request.url.path) == ("POST", "/app/installations/42/access_tokens")
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert fake.claims[0]["iss"] == "12345"

    clock.now += 3600 - 301  # still more than 5 minutes left: cached
    assert auth.headers()["Authorization"] == "Bearer ghs_token1" and fake.issued == 1
    clock.now += 2  # within 5 minutes of expires_at: renewed
    assert auth.headers()["Authorization"] == "Bearer ghs_token2" and fake.issued == 2
    # the new JWT is signed at the new time
    assert fake.claims[-1]["iat"] == int(clock.now) - 60


def test_short_lived_token_is_renewed_every_time(key: rsa.RSAPrivateKey, pem: str) -> None:
    auth, fake, _ = app_auth(key, pem, lifetime=200)  # expires within the 5-minute margin
    auth.headers()
    auth.headers()
    assert fake.issued == 2


def test_installation_found_for_repository(key: rsa.RSAPrivateKey, pem: str) -> None:
    auth, fake, _ = app_auth(key, pem, installation=None)
    with pytest.raises(LookupError, match="for_repository"):
        auth.headers()
    bound = auth.for_repository("octo-org/octo-repo")
    assert bound.installation_id == "42"
    assert bound.headers() == {"Authorization": "Bearer ghs_token1"}
    assert auth.for_repository("octo-org/octo-repo").installation_id == "42"
    lookups = [r for r in fake.requests if r.url.path.endswith("/installation")]
    assert len(lookups) == 1  # cached per repository
    assert bound.for_repository("anything/else") is bound
    with pytest.raises(GitHubError, match="Not Found") as info:
        auth.for_repository("octo-org/elsewhere")
    assert info.value.status == 404


def test_app_auth_drives_the_client(key: rsa.RSAPrivateKey, pem: str) -> None:
    auth, fake, _ = app_auth(key, pem)
    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 1, "full_name": "octo-org/octo-repo"})

    client = GitHubClient(httpx.Client(transport=httpx.MockTransport(api)), auth=auth, sleep=lambda s: None)
    client.get_repository("octo-org/octo-repo")
    client.get_repository("octo-org/octo-repo")
    assert [r.headers["authorization"] for r in seen] == ["Bearer ghs_token1"] * 2
    assert fake.issued == 1


def test_refused_jwt_raises_github_error(key: rsa.RSAPrivateKey, pem: str) -> None:
    auth, _, _ = app_auth(key, pem, installation="7")
    with pytest.raises(GitHubError, match=r"401.*Bad credentials"):
        auth.headers()


def test_bad_private_key() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    with pytest.raises(ValueError, match="unusable private key"):
        AppAuth(1, "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n", 1, http)


def test_auth_from_settings(tmp_path: Path, pem: str) -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    assert auth_from_settings(None, None, None, None, http) is None
    token = auth_from_settings("ghp_x", "1", pem, None, http)
    assert isinstance(token, TokenAuth)  # a token wins
    from_text = auth_from_settings(None, "1", pem, "42", http, API)
    assert isinstance(from_text, AppAuth) and from_text.installation_id == "42"
    key_file = tmp_path / "app.pem"
    key_file.write_text(pem)
    from_file = auth_from_settings(None, 1, str(key_file), None, http)
    assert isinstance(from_file, AppAuth) and from_file.app_id == "1" and from_file.installation_id is None
    with pytest.raises(ValueError, match="cannot read"):
        auth_from_settings(None, "1", str(tmp_path / "missing.pem"), None, http)
    with pytest.raises(ValueError, match="both app_id and private_key"):
        auth_from_settings(None, "1", None, None, http)


def test_token_refresh_is_thread_safe(key: rsa.RSAPrivateKey, pem: str) -> None:
    auth, fake, _ = app_auth(key, pem)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: auth.headers(), range(64)))
    assert fake.issued == 1
    assert all(r == {"Authorization": "Bearer ghs_token1"} for r in results)


def test_client_binds_app_auth_to_each_repositorys_installation(key: rsa.RSAPrivateKey, pem: str) -> None:
    auth, fake, _ = app_auth(key, pem, installation=None)
    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 1, "full_name": "octo-org/octo-repo"})

    client = GitHubClient(httpx.Client(transport=httpx.MockTransport(api)), auth=auth, sleep=lambda s: None)
    client.get_repository("octo-org/octo-repo")
    client.get_repository("octo-org/octo-repo")
    assert [r.headers["authorization"] for r in seen] == ["Bearer ghs_token1"] * 2
    assert [r.url.path for r in fake.requests] == [
        "/repos/octo-org/octo-repo/installation",
        "/app/installations/42/access_tokens",
    ]
    with pytest.raises(GitHubError, match="Not Found"):
        client.get_repository("octo-org/elsewhere")  # the app is not installed there
