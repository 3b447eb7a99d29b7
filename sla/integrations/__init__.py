"""Help desks in: what a Jira Service Management or Zendesk webhook means for slaflow's tickets.

Pure, as the rest of `sla/`: a verified body (and, for Zendesk, the ticket as slaflow knows it)
in, the operations it asks for out, each dated when it happened in the desk. The API applies
them (api/desk_in.py) and the store records each delivery's outcome (store/integrations.py).
"""
