"""Dependencies for routes: the desk (Temporal client + config) and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.desk import Desk
from settings import Settings
from store import Store


def get_desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DeskDep = Annotated[Desk, Depends(get_desk)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
