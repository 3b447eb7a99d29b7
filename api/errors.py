"""Errors as docs/api.md promises: 404 unknown, 409 refused, 422 bad input, 503 no Temporal."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger("slaflow.api")


class ApiError(Exception):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


def not_found(ticket_id: str) -> ApiError:
    return ApiError(404, f"no ticket {ticket_id!r}")


def refused(reason: str) -> ApiError:
    return ApiError(409, reason)


def temporal_unavailable(what: str = "Temporal did not answer") -> ApiError:
    return ApiError(503, f"{what}; try again shortly")


def from_rpc(error: RPCError, ticket_id: str | None = None) -> ApiError:
    if error.status == RPCStatusCode.NOT_FOUND and ticket_id is not None:
        return not_found(ticket_id)
    if error.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.UNKNOWN,
    ):
        return temporal_unavailable()
    log.warning("temporal rpc error %s: %s", error.status.name, error.message)
    return ApiError(503, f"Temporal refused the request ({error.status.name}); try again shortly")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers 400 for a body it cannot decode; docs/api.md says invalid input is 422.
        status = 422 if exc.status_code == 400 else exc.status_code
        detail = "the body is not valid UTF-8 JSON" if exc.status_code == 400 else exc.detail
        return JSONResponse({"detail": detail}, status_code=status, headers=exc.headers)

    @app.exception_handler(RPCError)
    async def _rpc_error(request: Request, exc: RPCError) -> JSONResponse:
        error = from_rpc(exc)
        return JSONResponse({"detail": error.detail}, status_code=error.status_code)
