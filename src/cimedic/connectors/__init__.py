"""Connectors to CI providers: HTTP clients with an injectable transport, mapping of provider
payloads into :mod:`cimedic.model` (raw JSON never leaves a ``mapping`` module), webhooks.
"""
