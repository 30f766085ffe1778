"""Routes whose sync endpoint opens, uses and closes its request's session in one thread."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from fastapi import Request
from fastapi.params import Depends
from fastapi.routing import APIRoute

from core.deps import get_session, request_session

REQUEST = "_one_thread_request"


class OneThreadRoute(APIRoute):
    """An ``APIRoute`` whose plain-``def`` endpoint gets its ``SessionDep`` in the thread
    that runs it.

    FastAPI enters a sync generator dependency in a threadpool thread, runs the endpoint in
    another, and exits the dependency in a third: three hops through the threadpool per
    request, each a handoff of the GIL and a wake-up of the event loop. Here the session is
    opened and closed around the endpoint in its own thread, as ``get_session`` would (an
    error rolls it back). For endpoints that return a ``Response``: one whose result FastAPI
    serialises after it returns would find its session already closed.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, in_one_thread(endpoint), **kwargs)


def in_one_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` with its session parameters taken from the request in its own thread;
    an async endpoint, or one without a session, is returned as it is."""
    if inspect.iscoroutinefunction(endpoint):
        return endpoint
    hints = get_type_hints(endpoint, include_extras=True)
    signature = inspect.signature(endpoint)
    sessions = [name for name in signature.parameters if _is_session(hints.get(name))]
    if not sessions:
        return endpoint
    # FastAPI hands the request to one parameter only: the endpoint's own, if it has one.
    named = [name for name in signature.parameters if hints.get(name) is Request]
    request_name = named[0] if named else REQUEST
    # Annotations resolved here: FastAPI would read strings in the wrapper's module.
    parameters = [
        parameter.replace(annotation=hints.get(name))
        for name, parameter in signature.parameters.items()
        if name not in sessions
    ]
    if not named:
        parameters.append(
            inspect.Parameter(REQUEST, inspect.Parameter.KEYWORD_ONLY, annotation=Request)
        )

    @functools.wraps(endpoint)
    def run(**values: Any) -> Any:
        request: Request = values[request_name] if named else values.pop(REQUEST)
        with request_session(request) as session:
            return endpoint(**values, **dict.fromkeys(sessions, session))

    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=sorted(parameters, key=lambda p: p.kind),
        return_annotation=hints.get("return", signature.empty),
    )
    return run


def _is_session(hint: Any) -> bool:
    if get_origin(hint) is not Annotated:
        return False
    return any(
        isinstance(marker, Depends) and marker.dependency is get_session
        for marker in get_args(hint)[1:]
    )
