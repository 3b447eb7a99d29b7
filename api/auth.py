"""Access: API keys with roles (admin, agent, customer, integration), from a YAML keys file.

Keys are compared in constant time (as SHA-256 digests, against every key, so neither the
match nor its position leaks through timing) and never logged. Without a keys file the
API is open: every caller is an anonymous admin.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from api.errors import ApiError
from sla.actions import ACTIONS, ID_PATTERN
from sla.policy import ConfigError


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    CUSTOMER = "customer"
    # A help desk's connector or a backfill: opens tickets for any customer and acts on them,
    # with the times they happened (`at`), and nothing else (docs/api.md, "Access").
    INTEGRATION = "integration"


# What an integration key may do: the routes' names (api/routes/tickets.py).
INTEGRATION_ROUTES = frozenset(
    {"open_ticket", "get_ticket", *(kind.name for kind in ACTIONS if not kind.admin_only)}
)


class ApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=ID_PATTERN)
    key: str = Field(min_length=16, repr=False)
    role: Role
    customer_id: str | None = Field(default=None, pattern=ID_PATTERN)

    @model_validator(mode="after")
    def _customer_scope(self) -> ApiKey:
        if (self.role is Role.CUSTOMER) != (self.customer_id is not None):
            raise ValueError("customer_id goes with role customer, and only with it")
        return self


class KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[ApiKey] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> KeysFile:
        names = [k.name for k in self.keys]
        if len(set(names)) != len(names):
            raise ValueError("key names must be unique")
        if len({k.key for k in self.keys}) != len(self.keys):
            raise ValueError("each key must be different")
        return self


class Principal(BaseModel):
    name: str
    role: Role
    customer_id: str | None = None
    # False for the anonymous admin of an API without keys: no key to hold names to.
    keyed: bool = True

    @property
    def staff(self) -> bool:
        """Admins and agents: they see every ticket, and all of it."""
        return self.role is not Role.CUSTOMER

    def sees(self, customer_id: str) -> bool:
        return self.staff or self.role is Role.INTEGRATION or self.customer_id == customer_id

    @property
    def speaks_for_others(self) -> bool:
        """Records actions as whom it names (an admin for an agent, an integration for the
        source desk's people) and dates them (`at`); other keys act as themselves, now."""
        return self.role in (Role.ADMIN, Role.INTEGRATION)


ANONYMOUS = Principal(name="anonymous", role=Role.ADMIN, keyed=False)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class Keyring:
    def __init__(self, keys: list[ApiKey]) -> None:
        self._entries = [
            (_digest(k.key), Principal(name=k.name, role=k.role, customer_id=k.customer_id))
            for k in keys
        ]

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls(KeysFile.model_validate(data).keys)
        except OSError as exc:
            raise ConfigError(f"cannot read API keys file {path}: {exc.strerror}") from None
        except yaml.YAMLError:
            raise ConfigError(f"API keys file {path} is not valid YAML") from None
        except ValidationError as exc:
            # The message names the entry, never a key's value.
            where = "; ".join(".".join(map(str, e["loc"])) + ": " + e["msg"] for e in exc.errors())
            raise ConfigError(f"invalid API keys file {path}: {where}") from None

    def identify(self, presented: str) -> Principal | None:
        digest = _digest(presented)
        found = None
        for known, principal in self._entries:
            if hmac.compare_digest(known, digest):
                found = principal
        return found


def current_principal(request: Request) -> Principal:
    keyring: Keyring | None = request.app.state.keyring
    if keyring is None:
        return ANONYMOUS
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    principal = keyring.identify(presented.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise ApiError(401, "a valid API key is needed: Authorization: Bearer <key>")
    if principal.role is Role.INTEGRATION:
        route = request.scope.get("route")
        if getattr(route, "name", None) not in INTEGRATION_ROUTES:
            raise ApiError(
                403, "an integration key opens tickets and acts on them, and does nothing else"
            )
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def allow(*roles: Role) -> Any:
    """A route dependency: 403 unless the caller's role is one of `roles`."""

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, f"a {principal.role.value} key may not do this")
        return principal

    return Depends(check)


STAFF = allow(Role.ADMIN, Role.AGENT)
# Who works tickets: staff, and the integrations that relay the desk's staff.
WORKERS = allow(Role.ADMIN, Role.AGENT, Role.INTEGRATION)
ADMIN_ONLY = allow(Role.ADMIN)
