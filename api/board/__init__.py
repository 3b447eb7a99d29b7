"""The SLA board: server-rendered pages (queue, ticket, reports) that call the JSON API."""
