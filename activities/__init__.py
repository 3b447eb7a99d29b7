"""Every side effect of a ticket and of the contract: store records, deliveries, archiving.

Each activity's Temporal name is written once, at its `@activity.defn`; workflows call them by
reference (workflows/retries.py has their retry policies)."""
