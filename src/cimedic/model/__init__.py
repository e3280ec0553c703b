"""Typed domain of cimedic: plain data, no I/O.

Everything that crosses a package boundary is one of these models or enums.
"""

from cimedic.model.diagnosis import (
    CATEGORIES,
    Category,
    CauseMatch,
    Diagnosis,
    ErrorLine,
    Excerpt,
    FailedStep,
    FailureCause,
    LogFormat,
    LogInfo,
    Section,
)

__all__ = [
    "CATEGORIES",
    "Category",
    "CauseMatch",
    "Diagnosis",
    "ErrorLine",
    "Excerpt",
    "FailedStep",
    "FailureCause",
    "LogFormat",
    "LogInfo",
    "Section",
]
