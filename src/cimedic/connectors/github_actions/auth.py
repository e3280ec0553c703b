"""Authentication to the GitHub REST API: a token, or a GitHub App installation.

GitHub docs: "Authenticating to the REST API" (``Authorization: Bearer <token>``),
"Generating a JSON Web Token (JWT) for a GitHub App" (RS256; ``iat`` 60 s in the past against
clock drift; ``exp`` at most 10 minutes ahead; ``iss`` the app id) and "Generating an
installation access token for a GitHub App" (``POST /app/installations/{id}/access_tokens``
answers a token that expires after one hour; ``GET /repos/{owner}/{repo}/installation`` finds
the installation of a repository).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import httpx
import jwt

from cimedic.connectors.github_actions.http import BASE_HEADERS, GitHubError
from cimedic.connectors.github_actions.mapping import (
    MappingError,
    error_message,
    map_installation_id,
    map_installation_token,
)

JWT_BACKDATE = 60
"""Seconds ``iat`` is set in the past (GitHub: protects against clock drift)."""
JWT_LIFETIME = 540
"""Seconds from now until ``exp`` (GitHub allows at most 600)."""
REFRESH_MARGIN = 300.0
"""An installation token is renewed this many seconds before its ``expires_at``."""
TOKEN_LIFETIME = 3600.0
"""Assumed token lifetime (seconds) when GitHub's answer has no ``expires_at``."""


class Auth(Protocol):
    """Gives the headers that authenticate one request."""

    def headers(self) -> dict[str, str]: ...


class TokenAuth:
    """A personal access token, ``GITHUB_TOKEN`` or other fixed token, sent as a Bearer token."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("empty GitHub token")
        self._token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def __repr__(self) -> str:  # never print the token
        return "TokenAuth(***)"


class AppAuth:
    """A GitHub App acting as one installation.

    Signs an RS256 JWT with the app's private key (``iat`` = now - 60 s, ``exp`` = now + 540 s,
    ``iss`` = app id), exchanges it for an installation access token, caches the token and
    renews it 5 minutes before its ``expires_at``. ``clock()`` gives epoch seconds. Thread-safe.
    Raises :class:`ValueError` for an unusable private key, :class:`GitHubError` when GitHub
    refuses the JWT or the installation, and :class:`LookupError` from :meth:`headers` when the
    installation id is unknown (see :meth:`for_repository`).
    """

    def __init__(
        self,
        app_id: str | int,
        private_key_pem: str | bytes,
        installation_id: str | int | None,
        http: httpx.Client,
        base_url: str = "https://api.github.com",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = str(app_id)
        self.installation_id = str(installation_id) if installation_id is not None else None
        self._key = private_key_pem
        self._http = http
        self._base = base_url.rstrip("/")
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self._installations: dict[str, str] = {}
        try:
            self.app_jwt()
        except (ValueError, TypeError, jwt.PyJWTError) as err:
            raise ValueError(f"GitHub App {self.app_id}: unusable private key ({err})") from None

    def __repr__(self) -> str:
        return f"AppAuth(app_id={self.app_id!r}, installation_id={self.installation_id!r})"

    def app_jwt(self) -> str:
        """A fresh app JWT (authenticates as the app itself, e.g. for installation lookups)."""
        now = int(self._clock())
        claims = {"iat": now - JWT_BACKDATE, "exp": now + JWT_LIFETIME, "iss": self.app_id}
        return jwt.encode(claims, self._key, algorithm="RS256")

    def _app_request(self, method: str, path: str) -> object:
        url = f"{self._base}{path}"
        headers = {**BASE_HEADERS, "Authorization": f"Bearer {self.app_jwt()}"}
        try:
            response = self._http.request(method, url, headers=headers)
        except httpx.TransportError as err:
            raise GitHubError(0, url, f"network error: {err!r}") from err
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            message = error_message(body) or response.reason_phrase
            raise GitHubError(response.status_code, url, message)
        if body is None:
            raise GitHubError(response.status_code, url, "response is not valid JSON")
        return body

    def token(self) -> str:
        """The cached installation token, renewed when within 5 minutes of expiry."""
        if self.installation_id is None:
            raise LookupError(
                f"GitHub App {self.app_id}: installation id unknown; use for_repository(full_name)"
            )
        with self._lock:
            if self._token is None or self._clock() >= self._expires - REFRESH_MARGIN:
                path = f"/app/installations/{self.installation_id}/access_tokens"
                body = self._app_request("POST", path)
                try:
                    answer = map_installation_token(body)
                except MappingError as err:
                    raise GitHubError(200, f"{self._base}{path}", str(err)) from None
                self._token = answer.token
                self._expires = (
                    answer.expires_at.timestamp()
                    if answer.expires_at is not None
                    else self._clock() + TOKEN_LIFETIME
                )
            return self._token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def for_repository(self, full_name: str) -> AppAuth:
        """This auth bound to the installation that covers ``full_name`` (``owner/name``).

        Returns ``self`` when the installation id is already set; otherwise finds it with
        ``GET /repos/{owner}/{repo}/installation`` (cached per repository) and returns a new
        :class:`AppAuth` for it. Raises :class:`GitHubError` (404: the app is not installed).
        """
        if self.installation_id is not None:
            return self
        owner, _, name = full_name.partition("/")
        if not owner or not name:
            raise ValueError(f"repository must be 'owner/name', got {full_name!r}")
        with self._lock:
            found = self._installations.get(full_name)
        if found is None:
            path = f"/repos/{owner}/{name}/installation"
            body = self._app_request("GET", path)
            try:
                found = map_installation_id(body)
            except MappingError as err:
                raise GitHubError(200, f"{self._base}{path}", str(err)) from None
            with self._lock:
                self._installations[full_name] = found
        return AppAuth(self.app_id, self._key, found, self._http, self._base, self._clock)


def _read_key(private_key: str) -> str:
    """PEM text as given, or read from the file ``private_key`` names."""
    if "-----BEGIN" in private_key:
        return private_key
    path = Path(private_key).expanduser()
    try:
        return path.read_text(encoding="ascii")
    except OSError as err:
        raise ValueError(f"GitHub App private key: cannot read {path}: {err.strerror}") from None


def auth_from_settings(
    token: str | None,
    app_id: str | int | None,
    private_key: str | None,
    installation_id: str | int | None,
    http: httpx.Client,
    base_url: str = "https://api.github.com",
) -> Auth | None:
    """Build the :class:`Auth` the settings describe.

    A ``token`` wins; else ``app_id`` plus ``private_key`` (PEM text, or a path to a PEM file)
    give an :class:`AppAuth` (``installation_id`` may be ``None``: see
    :meth:`AppAuth.for_repository`); nothing configured gives ``None`` (anonymous, 60
    requests/hour). Raises :class:`ValueError` when only one of ``app_id`` / ``private_key`` is
    set or the key is unusable.
    """
    if token:
        return TokenAuth(token)
    if app_id is None and not private_key:
        return None
    if app_id is None or not private_key:
        raise ValueError("GitHub App auth needs both app_id and private_key")
    return AppAuth(app_id, _read_key(private_key), installation_id, http, base_url)


__all__ = ["AppAuth", "Auth", "TokenAuth", "auth_from_settings"]
