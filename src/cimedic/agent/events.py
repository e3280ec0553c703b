"""The agent loop's typed events, the tool steps stored with a chat turn, and the collected
result of a turn (:func:`collect`). Re-exported by :mod:`cimedic.agent.loop`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cimedic.agent.protocol import StepProtocol


# -------------------------------------------------------------------------------- events
@dataclass(frozen=True)
class StepStarted:
    """A model call starts: the tools offered (none on the ``final`` step) and the protocol."""

    step: int
    tools_offered: tuple[str, ...]
    final: bool
    protocol: StepProtocol = "json"


@dataclass(frozen=True)
class ModelReplied:
    """A model call: tokens as the server reported them, ``error`` when the reply was unusable
    (invalid JSON; a native reply that is neither a call nor an answer)."""

    step: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    error: str | None = None
    protocol: StepProtocol = "json"


@dataclass(frozen=True)
class ProtocolChanged:
    """From this point of ``step`` the turn uses ``protocol`` (auto fell back to JSON) because of
    ``reason``."""

    step: int
    protocol: StepProtocol
    reason: str


@dataclass(frozen=True)
class ToolCalled:
    step: int
    tool: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolResult:
    step: int
    tool: str
    arguments: dict[str, Any]
    output: str
    error: bool = False
    truncated: bool = False
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToolRefused:
    step: int
    tool: str
    arguments: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class Answer:
    step: int
    text: str
    citations: tuple[str, ...] = ()


@dataclass(frozen=True)
class BudgetExhausted:
    step: int
    reason: str


Event = (
    StepStarted
    | ModelReplied
    | ProtocolChanged
    | ToolCalled
    | ToolResult
    | ToolRefused
    | Answer
    | BudgetExhausted
)


@dataclass(frozen=True)
class StepRecord:
    """One tool step, as stored with a chat turn: ``status`` ok, error or refused; ``protocol``
    native or json."""

    step: int
    tool: str
    arguments: dict[str, Any]
    status: str
    output: str
    protocol: str = "json"

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "tool": self.tool,
            "arguments": self.arguments,
            "status": self.status,
            "output": self.output,
            "protocol": self.protocol,
        }


@dataclass
class AgentResult:
    """A finished loop: the ``answer`` (a budget message when exhausted), its ``citations``,
    tool ``steps``, model ``calls``, tokens, ``seconds`` wall clock, every event, ``exhausted``
    (the budget's reason) when no answer came, and the ``protocol`` of the last step."""

    answer: str
    citations: tuple[str, ...]
    steps: list[StepRecord]
    calls: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    events: list[Event] = field(default_factory=list)
    exhausted: str | None = None
    protocol: str = "json"

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def collect(events: list[Event], *, seconds: float) -> AgentResult:
    """An :class:`AgentResult` from a finished event list."""
    steps: list[StepRecord] = []
    answer = ""
    citations: tuple[str, ...] = ()
    exhausted: str | None = None
    prompt = completion = calls = 0
    protocol = "json"
    for e in events:
        if isinstance(e, StepStarted | ProtocolChanged):
            protocol = e.protocol
        elif isinstance(e, ModelReplied):
            calls += 1
            prompt += e.prompt_tokens
            completion += e.completion_tokens
        elif isinstance(e, ToolResult):
            steps.append(
                StepRecord(e.step, e.tool, e.arguments, "error" if e.error else "ok", e.output, protocol)
            )
        elif isinstance(e, ToolRefused):
            steps.append(StepRecord(e.step, e.tool, e.arguments, "refused", e.reason, protocol))
        elif isinstance(e, Answer):
            answer, citations = e.text, e.citations
        elif isinstance(e, BudgetExhausted):
            exhausted = e.reason
            answer = f"No answer: {e.reason}."
    return AgentResult(
        answer, citations, steps, calls, prompt, completion, seconds, events, exhausted, protocol
    )
