"""Typed domain of cimedic: plain data, no I/O.

Everything that crosses a package boundary is one of these models or enums.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cimedic.model.ci import (
        CommitRef,
        Conclusion,
        Job,
        LogRef,
        Provider,
        PullRequestRef,
        Repository,
        RunAttempt,
        RunBundle,
        Status,
        Step,
        TestCase,
        TestReport,
        TestStatus,
        TestSuite,
        Workflow,
        WorkflowRun,
    )
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

_DIAGNOSIS = {
    "CATEGORIES", "Category", "CauseMatch", "Diagnosis", "ErrorLine", "Excerpt", "FailedStep",
    "FailureCause", "LogFormat", "LogInfo", "Section",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """The re-exported names, imported on first use (PEP 562), so that importing a light
    submodule (``cimedic.model.wording``) does not load pydantic and every model: ``cimedic
    --help`` stays cheap."""
    if name not in __all__:
        raise AttributeError(f"module 'cimedic.model' has no attribute {name!r}")
    from importlib import import_module

    module = import_module("cimedic.model.diagnosis" if name in _DIAGNOSIS else "cimedic.model.ci")
    value = getattr(module, name)
    globals()[name] = value
    return value


__all__ = [
    "CATEGORIES",
    "Category",
    "CauseMatch",
    "CommitRef",
    "Conclusion",
    "Diagnosis",
    "ErrorLine",
    "Excerpt",
    "FailedStep",
    "FailureCause",
    "Job",
    "LogFormat",
    "LogInfo",
    "LogRef",
    "Provider",
    "PullRequestRef",
    "Repository",
    "RunAttempt",
    "RunBundle",
    "Section",
    "Status",
    "Step",
    "TestCase",
    "TestReport",
    "TestStatus",
    "TestSuite",
    "Workflow",
    "WorkflowRun",
]
