"""The `callcenter` command: thin shells over the runtime and the domain services."""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from callcenter.app import create_app
from callcenter.asgi import INPROCESS_WORKER_ENV
from callcenter.logging import configure_logging
from callcenter.migrate import upgrade
from callcenter.runtime import Runtime, keep_files_private, open_database
from callcenter.secret_key import resolve_secret_key
from callcenter.serving import WEBSOCKETS
from callcenter.settings import Settings
from callcenter.sip_endpoint import build_endpoint
from callcenter.wiring import build_switchboard, load_configured_flows, worker_context
from callcenter.worker import build_worker
from core.clock import system_clock
from core.db import session_scope, writer
from core.errors import CallCenterError

app = typer.Typer(
    help="Call-center service for home-appliance after-sales hotlines.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
recordings_app = typer.Typer(help="Call recordings.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(recordings_app, name="recordings")
console = Console()
errors = Console(stderr=True)


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log)
    return settings


def _fail(exc: CallCenterError) -> None:
    # Whole lines, however narrow the terminal: a path split in two cannot be pasted.
    errors.print(f"[red]error:[/red] {exc.message}", soft_wrap=True)
    for key, value in exc.details.items():
        errors.print(f"  {key}: {value}", soft_wrap=True, markup=False)
    raise typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    worker: Annotated[
        bool | None,
        typer.Option(
            help="Run the background worker in this process "
            "(default: yes on embedded Redis, no otherwise)"
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes")] = 1,
) -> None:
    """Run the API, the console and the Twilio webhooks (embedded SQLite and Redis if unset)."""
    settings = _settings()
    try:
        load_configured_flows(settings)  # a missing flow fails here, not at the first call
        runtime = Runtime.start(settings, web=True)
    except CallCenterError as exc:
        _fail(exc)
        return
    try:
        in_process = settings.embedded_redis if worker is None else worker
        signal.signal(signal.SIGTERM, _exit_on_signal)
        if workers > 1:
            _print_banner(settings, runtime, host, port, in_process)
            _serve_workers(runtime, host, port, workers, in_process)
            return
        application = create_app(
            settings=settings,
            engine=runtime.engine,
            bus=runtime.bus,
            secret_key=resolve_secret_key(settings),
            redis_url=runtime.redis_url,
            run_worker=in_process,
            clock=runtime.clock,
        )
        _print_banner(settings, runtime, host, port, in_process)
        uvicorn.run(application, host=host, port=port, **SERVER_OPTIONS)
    finally:
        runtime.close()


SERVER_OPTIONS: dict[str, Any] = {"log_config": None, **WEBSOCKETS}


def _serve_workers(runtime: Runtime, host: str, port: int, workers: int, in_process: bool) -> None:
    """Several uvicorn processes over the Redis and database this process has set up."""
    os.environ["CALLCENTER_REDIS_URL"] = runtime.redis_url
    os.environ["CALLCENTER_AUTH_SECRET_KEY"] = resolve_secret_key(runtime.settings)
    os.environ[INPROCESS_WORKER_ENV] = "1" if in_process else "0"
    uvicorn.run(
        "callcenter.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **SERVER_OPTIONS,
    )


def _exit_on_signal(signum: int, _frame: object) -> None:
    # uvicorn re-raises the signal that stopped it once it has shut down; exiting
    # through SystemExit instead lets serve's finally stop the embedded Redis.
    raise SystemExit(128 + signum)


def _print_banner(
    settings: Settings, runtime: Runtime, host: str, port: int, in_process: bool
) -> None:
    database = (
        f"SQLite {settings.database_url.removeprefix('sqlite:///')}"
        if settings.embedded_database
        else "external (CALLCENTER_DATABASE_URL)"
    )
    redis_where = "external (CALLCENTER_REDIS_URL)"
    if runtime.embedded is not None:
        owner = "" if runtime.embedded.owner else ", owned by another running callcenter"
        redis_where = f"embedded, files in {runtime.embedded.directory}{owner}"
    worker_where = "in this process" if in_process else "separate (callcenter worker)"
    console.print(f"callcenter listening on [bold]http://{host}:{port}[/bold]")
    console.print(f"  data directory:    {settings.data_dir.resolve()}")
    console.print(f"  database:          {database}")
    console.print(f"  redis:             {redis_where}")
    console.print(f"  background worker: {worker_where}")
    console.print(f"  API docs:          http://{host}:{port}/docs")


@app.command("sip")
def run_sip() -> None:
    """Register to the PBX (CALLCENTER_SIP_*) and answer calls into the IVR and queues."""
    settings = _settings()
    try:
        load_configured_flows(settings)
        runtime = Runtime.start(settings)
    except CallCenterError as exc:
        _fail(exc)
        return
    try:
        endpoint = build_endpoint(
            settings, sessions=runtime.sessions, client=runtime.bus, clock=runtime.clock
        )
    except CallCenterError as exc:
        runtime.close()
        _fail(exc)
        return
    config = endpoint.config

    def ready() -> None:
        console.print(
            f"callcenter sip registered as [bold]{config.username}[/bold] at "
            f"{config.server}:{config.port}, listening on {config.local_ip}:{config.local_port}"
        )

    def shut_down(_signum: int, _frame: object) -> None:
        endpoint.stop()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    try:
        endpoint.run(on_ready=ready)
    finally:
        endpoint.stop()
        runtime.close()


@app.command("worker")
def run_worker() -> None:
    """Run the background worker on its own (needs CALLCENTER_REDIS_URL)."""
    settings = _settings()
    if settings.redis.url is None:
        errors.print(
            "[red]error:[/red] set CALLCENTER_REDIS_URL; with embedded Redis, "
            "`callcenter serve` already runs the worker in its own process"
        )
        raise typer.Exit(code=2)
    try:
        flows, flow = load_configured_flows(settings)
    except CallCenterError as exc:
        _fail(exc)
        return
    runtime = Runtime.start(settings)
    try:
        board = build_switchboard(
            settings, runtime.bus, flow=flow, flows=flows, clock=runtime.clock
        )
        # A configured speech model that cannot be loaded stops the start, said plainly.
        context = worker_context(
            settings,
            sessions=runtime.sessions,
            bus=runtime.bus,
            clock=runtime.clock,
            switchboard=board,
        )
        build_worker(runtime.redis_url, ctx=context).run()
    except CallCenterError as exc:
        _fail(exc)
    finally:
        runtime.close()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Bring the database schema to the newest (or the given) revision."""
    settings = _settings()
    keep_files_private(settings)
    upgrade(settings.database_url, revision)
    console.print(f"database at revision {revision}")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Username")],
    role: Annotated[str, typer.Option(help="admin, supervisor, agent or station")],
    station: Annotated[str | None, typer.Option(help="Station code, for station users")] = None,
    full_name: Annotated[str, typer.Option(help="Display name")] = "",
) -> None:
    """Create a user; the password is read from standard input."""
    from orders.schemas import SYSTEM, UserCreate
    from orders.services import users

    password = sys.stdin.readline().rstrip("\r\n")
    settings = _settings()
    # Only the database: a running service's embedded Redis is its own, not ours to touch.
    engine = open_database(settings)
    try:
        with session_scope(engine) as session:
            station_id = users.station_id_for_code(session, station) if station else None
            data = UserCreate.model_validate(
                {
                    "username": name,
                    "full_name": full_name,
                    "role": role,
                    "station_id": station_id,
                    "password": password,
                }
            )
            user = users.create_user(session, data=data, actor=SYSTEM, clock=system_clock)
        console.print(f"user {user.username} ({user.role.value}) created with id {user.id}")
    except ValidationError as exc:
        for error in exc.errors():
            errors.print(f"[red]error:[/red] {'.'.join(map(str, error['loc']))}: {error['msg']}")
        raise typer.Exit(code=1) from None
    except CallCenterError as exc:
        _fail(exc)
    finally:
        engine.dispose()


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="How many customers to create")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed, for a repeatable data set")] = 2026,
    reset_passwords: Annotated[
        bool,
        typer.Option(
            "--reset-passwords",
            help="Give the demo users that exist already new passwords, and print them",
        ),
    ] = False,
    calls: Annotated[
        bool,
        typer.Option(
            "--calls",
            help="Then serve the service and stream simulated inbound calls through the real "
            "call path (signed Twilio webhooks; a local stand-in plays Twilio and the agents' "
            "softphones)",
        ),
    ] = False,
    count: Annotated[
        int, typer.Option(min=0, help="With --calls: calls to place (0: until Ctrl-C)")
    ] = 0,
    per_minute: Annotated[
        float, typer.Option(min=0.1, max=6000, help="With --calls: arrival rate")
    ] = 5.0,
    agents: Annotated[int, typer.Option(min=0, max=50, help="With --calls: simulated agents")] = 4,
    talk_seconds: Annotated[
        float, typer.Option(min=0.1, help="With --calls: typical talk time")
    ] = 30.0,
    agent_share: Annotated[
        float, typer.Option(min=0, max=1, help="With --calls: share of callers asking for an agent")
    ] = 0.8,
    speed: Annotated[
        float,
        typer.Option(
            min=1,
            max=100,
            help="With --calls: run the simulated callers and agents this many times faster",
        ),
    ] = 1.0,
    host: Annotated[str, typer.Option(help="With --calls: address to serve on")] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(
            help="With --calls: port to serve on (8000, or the next free port when another "
            "program holds 8000)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Seed a realistic demo data set and print the demo users' passwords.

    With --calls, also serve it and ring simulated callers into it: sign in at /console as a
    demo agent or supervisor to watch pops arrive and the wall move. Ctrl-C ends the calls
    and logs the simulated agents out.
    """
    from callcenter.demo.calls import CallPlan, listen, run_demo_calls
    from callcenter.demo.seed import seed_demo

    settings = _settings()
    runtime = Runtime.start(settings)
    try:
        # Before seeding: a newcomer learns at once that a running service is in the way.
        listener = listen(runtime, host=host, port=port) if calls else None
        # Beside a running service on SQLite, a write that read first would fail at once
        # when the service writes in between; taking the lock up front waits for it instead.
        with session_scope(writer(runtime.engine)) as session:
            report = seed_demo(
                session,
                customers=customers,
                seed=seed,
                clock=runtime.clock,
                reset_passwords=reset_passwords,
            )
        console.print(report.render())
        if listener is None:
            console.print(
                "next: serve it with `python3 dev.py run` and sign in at "
                "http://127.0.0.1:8000/console, or watch calls come in with "
                "`callcenter demo --calls`",
                soft_wrap=True,
            )
            return
        if listener.note:
            console.print(listener.note, soft_wrap=True)
        plan = CallPlan(
            count=count,
            per_minute=per_minute,
            agents=agents,
            talk_seconds=talk_seconds,
            agent_share=agent_share,
            speed=speed,
            seed=seed,
        )
        tally = run_demo_calls(runtime, plan=plan, listener=listener, out=console)
        console.print("calls: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    except CallCenterError as exc:
        _fail(exc)
    finally:
        runtime.close()


@recordings_app.command("check")
def recordings_check() -> None:
    """Report recordings whose file is missing or corrupt, and files no recording names;
    exits 1 when it finds any."""
    from recordings.integrity import check_recordings

    settings = _settings()
    engine = open_database(settings)
    try:
        with session_scope(engine) as session:
            report = check_recordings(session, settings.recordings_path)
    except CallCenterError as exc:
        _fail(exc)
    finally:
        engine.dispose()
    # Paths whole, one per line, however narrow the terminal: operators grep this.
    console.print(
        f"{report.checked} recordings checked in {settings.recordings_path}", soft_wrap=True
    )
    for title, findings in (
        ("missing", report.missing),
        ("corrupt", report.corrupt),
        ("orphaned", report.orphaned),
    ):
        console.print(f"{title}: {len(findings)}")
        for finding in findings:
            which = f"recording {finding.recording_id}: " if finding.recording_id else ""
            console.print(
                f"  {which}{finding.path} ({finding.reason})", markup=False, soft_wrap=True
            )
    if not report.clean:
        raise typer.Exit(code=1)
