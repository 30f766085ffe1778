"""The API's interactive docs at /docs (Swagger UI), served by the service itself.

Swagger UI's script, style and icon come from the installed ``fastapi-offline`` wheel
rather than a CDN: the page works on a machine without internet, and no third party
learns who reads it. The page has a content security policy of its own, as strict as the
console's but for its one inline start-up script, allowed by a nonce fresh for each
response. ReDoc (FastAPI's /redoc) is not served: it needs inline styles and blob workers,
asks a CDN for its logo, and renders this API's document slowly; /docs and /openapi.json
cover what it showed.
"""

from __future__ import annotations

import secrets
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
ASSETS_PATH = "/docs/assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))

router = APIRouter(include_in_schema=False)
assets = StaticFiles(directory=ASSETS_DIR)

SWAGGER_PARAMETERS = {
    # Swagger UI would otherwise show a badge fetched from validator.swagger.io.
    "validatorUrl": None,
}


def _policy(nonce: str) -> str:
    return (
        f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def _secured(page: HTMLResponse) -> HTMLResponse:
    """The page with a nonce on each of its scripts, and the headers that enforce it."""
    nonce = secrets.token_urlsafe(16)
    html = bytes(page.body).decode().replace("<script", f'<script nonce="{nonce}"')
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": _policy(nonce),
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


@router.get(SWAGGER_PATH)
def swagger_ui(request: Request) -> HTMLResponse:
    root = str(request.scope.get("root_path", ""))
    return _secured(
        get_swagger_ui_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )
    )


@router.get(OAUTH2_REDIRECT_PATH)
def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return _secured(get_swagger_ui_oauth2_redirect_html())
