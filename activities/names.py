"""Activity names: what workflows call, kept apart from the I/O that implements them."""

ESCALATE = "escalate"
SEND_WARNING = "send_warning"
RECORD_PENALTY = "record_penalty"
EXTEND_CALENDAR = "extend_calendar"
