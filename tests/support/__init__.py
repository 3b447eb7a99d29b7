"""What tests of every layer share, one copy each (plain code; the fixtures that start these
things live in conftest.py files: `receiver`, `mail_server`, `postgres_url` in tests/conftest.py).

- `ports`: `free_port`.
- `receiver`: `Receiver`, a real HTTP webhook receiver; `mail`: `Inbox`, a real SMTP server.
- `rules`: the pure rules (`sla/`): fixed times, policies, `open_ticket` without Temporal.
- `http`: the API: `API_CONFIG`, `open_ticket` over HTTP, the app in-process (`asgi_client`) or
  on a port (`serve`), `wait_until`.
- `processes`: `slaflow` as real processes (`Processes`), `wait_for`, `gone`, `children`.
- `postgres`: a throwaway PostgreSQL server.
- `access`: API keys and the table of every endpoint, for tests/api and tests/e2e.
"""
