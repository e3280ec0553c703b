"""Use case: which knowledge-base causes match which lines of a log (``causes test``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cimedic.analysis.diagnosis import detect_format
from cimedic.analysis.diagnosis.kb import CompiledKB
from cimedic.analysis.diagnosis.text import clean_line
from cimedic.inputs.logs import open_log
from cimedic.model import FailureCause
from cimedic.model.batches import split_lines


@dataclass(frozen=True)
class CauseHit:
    """A cause matched at ``line`` (1-based) of the log, with the cleaned line text."""

    cause_id: str
    line: int
    text: str


def match_causes(path: str, causes: Sequence[FailureCause], limit: int = 1000) -> list[CauseHit]:
    """Every (cause, line) match in the log at ``path``, at most ``limit``.

    Raises :class:`~cimedic.inputs.logs.LogReadError` when the log cannot be read.
    """
    kb = CompiledKB(causes)
    members, tmp = open_log(path)
    hits: list[CauseHit] = []
    try:
        for member in members:
            fmt = detect_format(member.load_head())
            window: list[tuple[int, str]] = []
            for batch in member.batches():
                for i, raw in enumerate(split_lines(batch.data)):
                    n = batch.first_line + i
                    text = clean_line(raw, fmt)[0]
                    window.append((n, text))
                    for cid in kb.match_line(text.encode("utf-8", "replace")):
                        hits.append(CauseHit(cid, n, text))
                        if len(hits) >= limit:
                            return hits
                for hit in kb.match_window(window):
                    hits.append(CauseHit(hit.cause_id, hit.line, dict(window).get(hit.line, "")))
                window = window[-200:]
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return hits
