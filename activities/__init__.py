"""Every side effect of a ticket: notifications and ledger writes, each idempotent by key."""

from activities.names import ESCALATE, RECORD_PENALTY, SEND_WARNING

__all__ = ["ESCALATE", "RECORD_PENALTY", "SEND_WARNING"]
