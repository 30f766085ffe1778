"""The app factory uvicorn imports in each worker process of ``callcenter serve --workers N``.

The parent process has migrated the database, started the embedded Redis if any, and put
its URL and the token key in the environment; each worker builds its own engine and
clients from there.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from callcenter.app import create_app
from callcenter.logging import configure_logging
from callcenter.runtime import Runtime
from callcenter.secret_key import resolve_secret_key
from callcenter.settings import Settings

INPROCESS_WORKER_ENV = "CALLCENTER_SERVE_INPROCESS_WORKER"


def create() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log)
    runtime = Runtime.start(settings, web=True)
    return create_app(
        settings=settings,
        engine=runtime.engine,
        bus=runtime.bus,
        secret_key=resolve_secret_key(settings),
        redis_url=runtime.redis_url,
        run_worker=os.environ.get(INPROCESS_WORKER_ENV) == "1",
        on_close=runtime.close,
        clock=runtime.clock,
    )
