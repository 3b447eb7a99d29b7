"""Board routes: the page shells and their static files; every datum comes from the JSON API.

The pages carry no ticket data, so they need no key: the browser asks for one (when the API
has a keys file) and sends it to the JSON API itself, where the access rules apply. The key
lives in the page's origin, so the pages run only their own files: no inline script or style,
nothing from elsewhere, never in another site's frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from api.errors import ApiError
from sla.actions import ID_PATTERN

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(prefix="/board", tags=["board"], include_in_schema=False)

PAGE_HEADERS = {
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        )
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page_config(request: Request) -> dict[str, Any]:
    """What the page's script needs to know: whether to ask for a key, where Temporal's UI is
    (from the settings only: a link a visitor could set would be a link an attacker sets)."""
    settings = request.app.state.settings
    return {
        "needs_key": request.app.state.keyring is not None,
        "temporal_ui": settings.temporal_ui,
        "namespace": request.app.state.temporal_namespace,
    }


def _page(request: Request, template: str, **extra: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, template, {"config": {**_page_config(request), **extra}}, headers=PAGE_HEADERS
    )


@router.get("", response_class=HTMLResponse)
async def queue(request: Request) -> HTMLResponse:
    return _page(request, "queue.html", page="queue")


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def ticket(
    request: Request, ticket_id: Annotated[str, PathParam(pattern=ID_PATTERN)]
) -> HTMLResponse:
    return _page(request, "ticket.html", page="ticket", ticket_id=ticket_id)


@router.get("/reports", response_class=HTMLResponse)
async def reports(request: Request) -> HTMLResponse:
    return _page(request, "reports.html", page="reports")


@router.get("/static/{name:path}")
async def static(name: str) -> FileResponse:
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC.resolve()) or not path.is_file():
        raise ApiError(404, f"no board file {name!r}")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})
