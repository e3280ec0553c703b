"""Analyzers: pure functions of log lines and stored data returning typed findings.

Nothing here performs I/O or calls a provider, so every analyzer replays on history.
"""
