"""Benchmarks: what slaflow adds on top of the Temporal server, against a raw ceiling."""
