"""The two ways the agent loop asks a model for tool calls, and the helpers each needs.

``json`` (the baseline): each step the model returns one JSON object under a JSON schema
(:func:`step_schema`): ``{"action": "call", "tool": ..., "arguments": {...}}`` or ``{"action":
"answer", "text": ..., "citations": [...]}``. Small local models follow it under grammar
constraints (``shared/docs/local-llm.md``).

``native``: OpenAI ``tools`` (:func:`tool_specs`); the reply's ``tool_calls`` are the calls, a
plain-text reply without calls is the answer and its citations are the ``run <id>``/``job
<id>``/``cluster <id>`` references in the text (:func:`cite_refs`). A reply that is neither (empty,
or a JSON object in the text: a tool call the server did not parse, as llama.cpp's server does
with the 0.5B test model) is unusable (:func:`unusable_reply`).

``auto`` (:func:`choose_protocol`): native when the client has native tool calls and they are not
known to fail on its server, else JSON; the loop switches to JSON mid-turn when they fail
(:func:`to_json_protocol` rewrites the conversation so far).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from cimedic.agent.llm.base import Message, ToolSpec, supports_tools
from cimedic.agent.tools import Tool

#: The ``llm_tool_calls`` setting: ``auto``, ``native`` or ``json``.
ToolProtocol = Literal["auto", "native", "json"]
#: The protocol of one step.
StepProtocol = Literal["native", "json"]

#: A citation in answer text: what tool output names as citable (``cimedic.agent.tools``:
#: ``run <provider run id>``, ``job <store job id>``, ``cluster <id prefix>``).
_REF = re.compile(r"\b(?:(run|job)\s+#?(\d+)|(cluster)\s+([0-9a-f]{6,}))\b", re.IGNORECASE)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_TAGS = re.compile(r"</?tool_call>")


def choose_protocol(llm: object, setting: ToolProtocol) -> StepProtocol:
    """The protocol a turn starts with: ``json`` and ``native`` as set; ``auto`` native when
    ``llm`` has native tool calls not known to fail (:func:`~cimedic.agent.llm.base.supports_tools`),
    else json."""
    if setting == "json":
        return "json"
    if setting == "native":
        return "native"
    return "native" if supports_tools(llm) else "json"


# -------------------------------------------------------------------------------- json
def step_schema(tools: Sequence[Tool], *, final: bool, allow_answer: bool = True) -> dict[str, Any]:
    """The JSON schema of one step: an ``answer`` object, plus one ``call`` variant per tool
    (``tool`` an enum of its name, ``arguments`` its parameters) unless ``final``; without
    ``allow_answer`` (and tools to offer) only the ``call`` variants."""
    answer = {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["answer"]},
            "text": {"type": "string"},
            "citations": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["action", "text"],
    }
    if final or not tools:
        return answer
    calls = [
        {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": ["call"]},
                "tool": {"type": "string", "enum": [t.name]},
                "arguments": t.parameters,
            },
            "required": ["action", "tool", "arguments"],
        }
        for t in tools
    ]
    return {"anyOf": [*calls, answer] if allow_answer else calls, "required": ["action"]}


def offered_tools(schema: dict[str, Any]) -> list[str]:
    """The tool names a step schema allows (empty: answer only)."""
    names: list[str] = []
    for variant in schema.get("anyOf", [schema]):
        tool = variant.get("properties", {}).get("tool")
        if tool:
            names.extend(tool.get("enum", []))
    return names


def tool_catalogue(tools: Sequence[Tool]) -> str:
    """One line per tool: name, description, arguments with their descriptions (the schema
    constrains the form; the model reads the meaning here)."""
    lines = []
    for t in tools:
        props = t.parameters.get("properties", {})
        args = "; ".join(f"{k} ({v['description']})" if v.get("description") else k for k, v in props.items())
        args = args or "none"
        lines.append(f"- {t.name}: {t.description} Arguments: {args}.")
    return "\n".join(lines)


def json_call_text(tool: str, arguments: dict[str, Any]) -> str:
    """A call as the JSON protocol's assistant message."""
    return json.dumps({"action": "call", "tool": tool, "arguments": arguments})


def json_protocol_note(tools: Sequence[Tool]) -> str:
    """Told to the model when a turn switches from native tool calls to JSON: the JSON protocol
    and the tool catalogue."""
    return (
        "Native tool calls are not available. From now on reply with one JSON object: "
        '{"action": "call", "tool": NAME, "arguments": {...}} to call one tool, or '
        '{"action": "answer", "text": ANSWER, "citations": [IDS]} with ids copied from tool results.\n'
        f"Tools:\n{tool_catalogue(tools)}"
    )


def to_json_protocol(convo: Sequence[Message], tools: Sequence[Tool]) -> list[Message]:
    """``convo`` rewritten for the JSON protocol: each native call becomes an assistant JSON
    call followed by its result as a user message (as the JSON loop writes them), then
    :func:`json_protocol_note`."""
    results = {m.tool_call_id: m.content for m in convo if m.role == "tool"}
    out: list[Message] = []
    for m in convo:
        if m.role == "tool":
            continue
        if m.tool_calls:
            for c in m.tool_calls:
                out.append(Message("assistant", json_call_text(c.name, c.arguments)))
                out.append(Message("user", results.get(c.id, "Refused: no result.")))
            continue
        out.append(m)
    out.append(Message("user", json_protocol_note(tools)))
    return out


# -------------------------------------------------------------------------------- native
def tool_specs(tools: Sequence[Tool]) -> tuple[ToolSpec, ...]:
    """The native ``tools`` of a step (name, description, parameter schema)."""
    return tuple(ToolSpec(t.name, t.description, t.parameters) for t in tools)


def unusable_reply(text: str, *, must_call: bool) -> str | None:
    """Why a native reply without tool calls is no answer (None: it is one): empty, a JSON object
    (a call the server did not parse into ``tool_calls``, or the JSON protocol), or text when a
    call is required."""
    body = _TAGS.sub("", _FENCE.sub("", text.strip())).strip()
    if not body:
        return "was empty"
    if body.startswith("{"):
        try:
            json.loads(body)
        except json.JSONDecodeError:
            pass
        else:
            return "was a JSON object in the text, not a tool call"
    if must_call:
        return "answered without calling a tool first"
    return None


def cite_refs(text: str) -> tuple[str, ...]:
    """The ``run <id>``, ``job <id>`` and ``cluster <id>`` references in ``text``, in order,
    without repeats (native answers are text; these are their citations)."""
    refs: list[str] = []
    for kind, ident, cluster, cluster_id in _REF.findall(text):
        ref = f"{kind.lower()} {ident}" if kind else f"{cluster.lower()} {cluster_id.lower()}"
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)
