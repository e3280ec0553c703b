"""The agent layer: LLM backends (``llm/``), and later the one bounded tool loop, chat memory and
agent mode. Everything here is optional: every feature except chat works without a model."""
