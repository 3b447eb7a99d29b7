"""Activity names: what workflows call, kept apart from the I/O that implements them."""

ESCALATE = "escalate"
SEND_WARNING = "send_warning"
RECORD_PENALTY = "record_penalty"
RECORD_REWARD = "record_reward"
RECORD_TICKET = "record_ticket"
EXTEND_CALENDAR = "extend_calendar"
