"""Users, stations and token routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from core.deps import BusDep, ClockDep, SecretKeyDep, SessionDep
from orders.http.common import Limit, Offset, PathId
from orders.http.deps import Access, Admin, AnyUser
from orders.schemas import (
    LanguageIn,
    Page,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from orders.services import users

auth_router = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(tags=["users"])


@auth_router.post("/token")
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    bus: BusDep,
    access: Access,
    secret: SecretKeyDep,
    clock: ClockDep,
    request: Request,
) -> TokenPublic:
    """OAuth2 password flow; repeated failures for one username are locked out for a while."""
    user = users.authenticate(
        session,
        bus=bus,
        username=form.username,
        password=form.password,
        address=request.client.host if request.client else "unknown",
        policy=access.login,
        clock=clock,
    )
    return users.issue_token(user, secret=secret, minutes=access.token_minutes, clock=clock)


@router.get("/me")
def whoami(session: SessionDep, actor: AnyUser) -> UserPublic:
    assert actor.id is not None
    return UserPublic.model_validate(
        users.get_user(session, user_id=actor.id), from_attributes=True
    )


@router.put("/me/language")
def choose_language(data: LanguageIn, session: SessionDep, actor: AnyUser) -> UserPublic:
    """Keep the console's language with the user, not the browser."""
    assert actor.id is not None
    user = users.set_language(session, user_id=actor.id, language=data.language)
    return UserPublic.model_validate(user, from_attributes=True)


@router.post("/users", status_code=201)
def create_user(
    data: UserCreate, session: SessionDep, actor: Admin, clock: ClockDep, access: Access
) -> UserPublic:
    user = users.create_user(
        session, data=data, actor=actor, clock=clock, sip_domains=access.sip_domains
    )
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("/users")
def list_users(
    session: SessionDep, _actor: Admin, limit: Limit = 50, offset: Offset = 0
) -> Page[UserPublic]:
    rows, total = users.list_users(session, limit=limit, offset=offset)
    items = [UserPublic.model_validate(row, from_attributes=True) for row in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/users/{user_id}")
def get_user(user_id: PathId, session: SessionDep, _actor: Admin) -> UserPublic:
    return UserPublic.model_validate(users.get_user(session, user_id=user_id), from_attributes=True)


@router.patch("/users/{user_id}")
def update_user(
    user_id: PathId,
    data: UserUpdate,
    session: SessionDep,
    actor: Admin,
    clock: ClockDep,
    access: Access,
) -> UserPublic:
    """Admins set a user's role, station, password, extension and whether it is active."""
    user = users.update_user(
        session,
        user_id=user_id,
        data=data,
        actor=actor,
        clock=clock,
        sip_domains=access.sip_domains,
    )
    return UserPublic.model_validate(user, from_attributes=True)
