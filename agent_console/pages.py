"""The console's page and its static files (served by the service itself, no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)
static_files = StaticFiles(directory=STATIC)


@router.get("/console")
def console_page() -> FileResponse:
    # The page itself holds no data: everything arrives over the API and the websocket.
    return FileResponse(STATIC / "console.html", headers={"Cache-Control": "no-store"})
