"""The store: what must outlive Temporal's retention (credits, rewards, outcomes, incidents)."""

from store.db import Store

__all__ = ["Store"]
