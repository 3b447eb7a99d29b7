"""Moved to tests/support/rules.py. This name stays only until
tests/activities/test_sla_activities.py imports `open_ticket` from there; then delete it."""

from tests.support.rules import open_ticket

__all__ = ["open_ticket"]
