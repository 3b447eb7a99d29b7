"""The board links a ticket's workflow in the namespace its client is on, which a temporal.toml
profile may have named (cluster.py), not the setting's default."""

from __future__ import annotations

import json
import re
from typing import cast

from temporalio.client import Client

from api.app import create_app
from api.deps import get_desk
from settings import Settings
from store import Store
from tests.api.conftest import FakeDesk, NoTemporal
from tests.support.http import asgi_client


class OnAProfilesNamespace(NoTemporal):
    namespace = "slaflow.a1b2c"


async def test_the_temporal_link_names_the_clients_namespace(
    api_settings: Settings, store: Store, desk: FakeDesk
) -> None:
    assert api_settings.temporal_namespace == "default"
    app = create_app(api_settings, cast(Client, OnAProfilesNamespace()), store)
    app.dependency_overrides[get_desk] = lambda: desk
    async with asgi_client(app) as client:
        page = await client.get("/board/tickets/T-1")
    found = re.search(r"data-config='([^']*)'", page.text)
    assert found, page.text
    assert json.loads(found[1])["namespace"] == "slaflow.a1b2c"
