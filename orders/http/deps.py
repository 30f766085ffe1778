"""Who is calling, and whether their role may call this route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from core.db import SAFE_METHODS, end_reads
from core.deps import ClockDep, SecretKeyDep, SessionDep
from core.errors import NotAuthenticated, PermissionDenied
from orders.enums import Role
from orders.schemas import Actor
from orders.services.users import AccessPolicy, actor_from_token


# Only reads app.state, so async (see core.deps).
async def access_policy(request: Request) -> AccessPolicy:
    policy: AccessPolicy = request.app.state.access
    return policy


Access = Annotated[AccessPolicy, Depends(access_policy)]
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def current_actor(
    request: Request,
    session: SessionDep,
    secret: SecretKeyDep,
    clock: ClockDep,
    token: Annotated[str | None, Depends(oauth2)],
) -> Actor:
    if not token:
        raise NotAuthenticated("a bearer token is required; get one at POST /api/auth/token")
    actor = actor_from_token(session, token=token, secret=secret, clock=clock)
    # The route runs in another thread than this dependency. On SQLite a writing request's
    # transaction holds the database's write lock from its first read: ended here, the
    # lock is taken again by the route itself and not held while the route waits for a
    # thread, which, with every thread waiting on that lock, would never come. (Reading
    # requests take no lock, and keep their reader's transaction.)
    if request.method not in SAFE_METHODS:
        end_reads(session)
    return actor


def roles(*allowed: Role) -> Callable[[Actor], Actor]:
    def check(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if actor.role not in allowed:
            raise PermissionDenied(
                f"role {actor.role.value} may not do this",
                details={"role": actor.role.value, "allowed": [r.value for r in allowed]},
            )
        return actor

    return check


Staff = Annotated[Actor, Depends(roles(Role.ADMIN, Role.SUPERVISOR, Role.AGENT))]
AnyUser = Annotated[Actor, Depends(roles(*Role))]
Intake = Annotated[Actor, Depends(roles(Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.STATION))]
StationStaff = Annotated[Actor, Depends(roles(Role.STATION, Role.ENGINEER))]
StationWork = Annotated[
    Actor, Depends(roles(Role.ADMIN, Role.SUPERVISOR, Role.STATION, Role.ENGINEER))
]
"""A station's own work, which the hotline's supervisors oversee."""
Supervisor = Annotated[Actor, Depends(roles(Role.ADMIN, Role.SUPERVISOR))]
Admin = Annotated[Actor, Depends(roles(Role.ADMIN))]
