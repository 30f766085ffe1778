"""The console's page and its static files (served by the service itself, no build step).

The page holds no data: everything arrives over the API and the websocket, authenticated by
a bearer token kept in the tab's sessionStorage. No cookie ever authenticates anything, so
a form another site posts to us carries no credentials (the CSRF story); the content
security policy allows only our own scripts, so even a customer field that slipped through
as markup could not run code.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)
static_files = StaticFiles(directory=STATIC)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@router.get("/console")
def console_page() -> FileResponse:
    return FileResponse(STATIC / "console.html", headers=SECURITY_HEADERS)
