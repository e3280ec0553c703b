"""Tables of conversations (migration 0009); they share :data:`cimedic.store.schema.metadata`.

``conversations``: one chat (``id`` 32 hex characters), its title, times (naive UTC) and the
stored ``summary`` of its turns up to ``summary_upto`` (a turn ``seq``; 0 = none summarised).
``chat_turns``: the turns in order (``seq`` from 1), ``role`` user or assistant, the text,
the tool ``steps`` (JSON list) and the turn's tokens.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cimedic.store.schema import metadata

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("title", String(255), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("summary", Text),
    Column("summary_upto", Integer, nullable=False, server_default="0"),
    Index("ix_conversations_updated_at", "updated_at"),
)

chat_turns = Table(
    "chat_turns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("steps", JSON),
    Column("prompt_tokens", Integer, nullable=False, server_default="0"),
    Column("completion_tokens", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("conversation_id", "seq", name="uq_chat_turns_conversation_id_seq"),
)
