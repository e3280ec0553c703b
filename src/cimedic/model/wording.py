"""Counted nouns for user-facing text: ``1 test``, ``2 tests``, ``1 occurrence``.

English only (cimedic's outputs are English). A noun takes ``s`` in the plural unless an
irregular plural is given (``plural(2, "was", "were")``); counts are printed with thousands
separators (``1,204 runs``).
"""

from __future__ import annotations

__all__ = ["noun", "plural"]


def noun(count: int, word: str, plural_form: str | None = None) -> str:
    """``word`` for a count of one, else its plural (``plural_form``, default ``word + "s"``)."""
    if count == 1:
        return word
    return plural_form if plural_form is not None else word + "s"


def plural(count: int, word: str, plural_form: str | None = None) -> str:
    """``"<count> <word>"`` with the noun agreeing with the count: ``plural(1, "run")`` is
    ``"1 run"``, ``plural(0, "run")`` ``"0 runs"``, ``plural(1204, "run")`` ``"1,204 runs"``."""
    return f"{count:,} {noun(count, word, plural_form)}"
