"""Signed download URLs are not logged at INFO (issue step 2, section 4): the log-download
redirect of GitHub is a short-lived URL carrying ``urlSignature=``; httpx logs every request at
INFO, and the long-running commands (``agent``, ``serve``) log libraries only from WARNING up."""

from __future__ import annotations

import io
import logging

import httpx

from cimedic.interfaces.logsetup import configure_logging

SIGNED = "https://productionresultssa0.blob.core.windows.net/actions-results/x/logs?sv=2021&urlSignature=AbCdEf0123456789SECRET"


def test_httpx_request_lines_with_signed_urls_are_not_logged(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    configure_logging()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="log"))
    with httpx.Client(transport=transport) as client:
        assert client.get(SIGNED).text == "log"
    logging.getLogger("cimedic.test").info("collected a log")
    out = err.getvalue()
    assert "collected a log" in out  # our own INFO lines still go out
    assert "urlSignature" not in out and "SECRET" not in out
