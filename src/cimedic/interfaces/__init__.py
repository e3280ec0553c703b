"""Thin adapters (CLI, later API, MCP, operator) over the services."""
