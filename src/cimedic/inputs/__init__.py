"""Input adapters with I/O: reading log files/archives and the knowledge base from disk."""
