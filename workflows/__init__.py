"""Workflows: deterministic orchestration of tickets, nothing else."""
