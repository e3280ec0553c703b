"""Our own logs are redacted: the filter rewrites records before any handler writes them."""

from __future__ import annotations

import io
import logging

from cimedic.analysis.redact import RedactingFilter

TOKEN = "ghp_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"


def _logger(stream: io.StringIO) -> logging.Logger:
    logger = logging.getLogger(f"test.redact.{id(stream)}")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    return logger


def test_message_arguments_and_exception_are_redacted() -> None:
    out = io.StringIO()
    log = _logger(out)
    log.warning("re-run of %s failed: %s", "o/r", f"401 for https://x:{TOKEN}@github.com/o/r")
    try:
        raise RuntimeError(f"export AWS_ACCESS_KEY_ID={AWS}")
    except RuntimeError:
        log.exception("job %s failed", "heal")
    text = out.getvalue()
    assert TOKEN not in text and AWS not in text
    assert "REDACTED" in text
    assert "re-run of o/r failed" in text and "job heal failed" in text
    assert "RuntimeError" in text and "Traceback" in text  # the traceback is kept, redacted


def test_bad_format_string_is_kept_not_dropped() -> None:
    out = io.StringIO()
    _logger(out).error("broken %d", f"token={TOKEN}")
    text = out.getvalue()
    assert "broken" in text and TOKEN not in text


def test_configure_logging_installs_one_redacting_handler() -> None:
    from cimedic.interfaces.logsetup import configure_logging

    root = logging.getLogger()
    before = list(root.handlers)
    try:
        h1 = configure_logging()
        h2 = configure_logging()
        assert h1 is h2 and sum(getattr(h, "_cimedic", False) for h in root.handlers) == 1
        assert any(isinstance(f, RedactingFilter) for f in h1.filters)
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
