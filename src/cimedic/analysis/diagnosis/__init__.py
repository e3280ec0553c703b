"""Failure diagnosis of a single CI log (pure: takes line batches, returns a Diagnosis)."""

from cimedic.analysis.diagnosis.engine import Diagnoser
from cimedic.analysis.diagnosis.text import detect_format, mask
from cimedic.model.batches import LineBatch, batches_from_bytes, count_breaks, split_lines

__all__ = [
    "Diagnoser",
    "LineBatch",
    "batches_from_bytes",
    "count_breaks",
    "detect_format",
    "mask",
    "split_lines",
]
