"""Use cases: each function wires inputs, analyzers and stores for one job."""
