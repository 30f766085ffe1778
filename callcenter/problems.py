"""Every error leaves the service as problem JSON: ``{error_id, message, details}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.bus import bus_unavailable
from core.errors import CallCenterError, Problem

log = structlog.get_logger(__name__)

MEDIA_TYPE = "application/problem+json"

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": description}
    for code, description in {
        400: "Malformed request body (e.g. not UTF-8)",
        401: "Missing or invalid bearer token",
        403: "The caller's role may not do this",
        404: "No such resource",
        409: "Conflicts with the resource's current state",
        413: "Request body too large",
        422: "Invalid input",
        429: "Too many requests",
        503: "Briefly unavailable (Redis or the database); retry after Retry-After seconds",
    }.items()
}


def problem(
    status: int,
    error_id: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(error_id=error_id, message=message, details=details or {})
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status, headers=headers, media_type=MEDIA_TYPE
    )


def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CallCenterError)
    if exc.status_code >= 500:
        log.error("domain error", error_id=exc.error_id, message=exc.message)
    return problem(exc.status_code, exc.error_id, exc.message, exc.details, exc.headers())


def _redis_error(request: Request, exc: Exception) -> JSONResponse:
    """A Redis failure under any route: the service is briefly unavailable, not broken."""
    assert isinstance(exc, redis.RedisError)
    return _domain_error(request, bus_unavailable(exc))


def _error_entry(error: dict[str, Any]) -> dict[str, Any]:
    location = [str(part) for part in error.get("loc", ())]
    message = error.get("msg", "")
    if error.get("type") == "json_invalid" and len(location) > 1:
        # FastAPI puts the character offset where a field name goes and drops the reason.
        offset = location.pop()
        reason = (error.get("ctx") or {}).get("error", "")
        message = f"not valid JSON at character {offset}: {reason}"
    return {"location": location, "message": message, "type": error.get("type", "")}


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_error_entry(error) for error in exc.errors()]
    summary = "; ".join(f"{'.'.join(e['location'])}: {e['message']}" for e in errors[:5])
    return problem(422, "validation_error", f"invalid input: {summary}", {"errors": errors})


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error_id = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    return problem(exc.status_code, error_id, str(exc.detail), headers=exc.headers)


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "internal_error", "internal error; it has been logged")


def _document_problem_media_type(app: FastAPI) -> None:
    """Document error bodies under the media type they are sent with.

    FastAPI files every ``responses={..: {"model": ..}}`` schema under ``application/json``;
    errors leave as ``application/problem+json``, so clients and contract tests that go by
    the document would otherwise see an undocumented content type on every error.
    """
    generate = app.openapi
    problem_ref = {"$ref": "#/components/schemas/Problem"}

    def openapi() -> dict[str, Any]:
        document = generate()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for response in operation.get("responses", {}).values():
                    content = response.get("content", {})
                    if content.get("application/json", {}).get("schema") == problem_ref:
                        content[MEDIA_TYPE] = content.pop("application/json")
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    app.add_exception_handler(CallCenterError, _domain_error)
    app.add_exception_handler(redis.RedisError, _redis_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    _document_problem_media_type(app)
