"""Stations, users, passwords, tokens and the login rate limit."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar, cast

import jwt
import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, func, select

from core.errors import NotAuthenticated, TooManyRequests
from core.types import Clock
from orders.constants import LOGIN_FAILURES, LOGIN_FAILURES_FROM
from orders.enums import AuditAction, Role
from orders.exceptions import (
    DuplicateUsername,
    InvalidUserData,
    StationNotFound,
    UserNotFound,
)
from orders.models import Station, User
from orders.schemas import (
    Actor,
    TokenPublic,
    UserCreate,
    UserUpdate,
)
from orders.services import audit

K = TypeVar("K")

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a miss costs as long as a hit.
    Made at the first miss, not on import: an Argon2 hash took 0.15 s of every process
    importing this (each CLI command, the worker, the SIP endpoint), most of which never
    sign anyone in."""
    return _hasher.hash("not a password of anyone")


def prepare_logins() -> None:
    """Make what a login by an unknown user is checked against, as a service starts: the
    first such login then costs what every other does, and tells nothing by its time."""
    _dummy_hash()


TOKEN_ALGORITHM = "HS256"


@dataclass(frozen=True)
class LoginPolicy:
    """Failed logins slow further tries down, per username and per address.

    Up to ``max_failures`` tries of a username go at once; after that each try waits
    twice as long as the one before (1 s, 2 s, 4 s ... up to ``max_delay_seconds``). A
    slowdown, not a lock: whoever knows the password gets in once the delay has passed, so
    nobody can lock the admin out by guessing.
    """

    max_failures: int = 5
    max_delay_seconds: int = 300
    max_failures_per_address: int = 20
    forget_after_seconds: int = 3600


@dataclass(frozen=True)
class AccessPolicy:
    """How accounts are admitted, as the operator configured it: the login slowdown, how
    long a token lasts, and which SIP domains agents' extensions may name."""

    login: LoginPolicy
    token_minutes: int
    sip_domains: frozenset[str]


# One step for every key: refused while a key's delay runs, else counted as a failure and
# given its next delay, before the password is verified. Parallel guesses cannot pass it.
_RESERVE_TRY = """
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local next_at = tonumber(redis.call('HGET', key, 'next_at') or '0')
  if now < next_at then return {0, tostring(next_at - now)} end
end
for i, key in ipairs(KEYS) do
  local failures = redis.call('HINCRBY', key, 'failures', 1)
  local over = failures - tonumber(ARGV[3 + i])
  local delay = 0
  if over >= 0 then delay = math.min(2 ^ over, tonumber(ARGV[2])) end
  redis.call('HSET', key, 'next_at', tostring(now + delay))
  -- A window from the first failure: further tries must not keep the count alive.
  if failures == 1 then redis.call('EXPIRE', key, tonumber(ARGV[3])) end
end
return {1, '0'}
"""
# The try was right: the address has it taken back, and with it the delay it was given
# if that leaves the address under its limit again.
_RELEASE_TRY = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', -1)
if failures < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'next_at', '0') end
"""


def actor_of(user: User) -> Actor:
    assert user.id is not None
    return Actor(id=user.id, name=user.username, role=user.role, station_id=user.station_id)


def _check_station_binding(session: Session, role: Role, station_id: int | None) -> None:
    bound = role in (Role.STATION, Role.ENGINEER)
    if bound and station_id is None:
        raise InvalidUserData(
            f"a {role.value} user must be bound to a station", details={"field": "station_id"}
        )
    if not bound and station_id is not None:
        raise InvalidUserData(
            "only station staff and engineers are bound to a station",
            details={"field": "station_id"},
        )
    if station_id is not None and session.get(Station, station_id) is None:
        raise StationNotFound(
            f"station {station_id} does not exist", details={"station_id": station_id}
        )


def check_extension(extension: str | None, *, sip_domains: frozenset[str]) -> None:
    """An extension rings one of our own softphones: a Twilio client, or a SIP user at our
    PBX or a domain the operator allowed. Anything else would divert customers' calls."""
    if extension is None or not extension.startswith("sip:") or "@" not in extension:
        return
    host = extension.split("@", 1)[1].rsplit(":", 1)[0].lower()
    if host not in sip_domains:
        raise InvalidUserData(
            f"{host} is not a SIP domain of this hotline",
            details={"field": "extension", "allowed": sorted(sip_domains)},
        )


def create_user(
    session: Session,
    *,
    data: UserCreate,
    actor: Actor,
    clock: Clock,
    sip_domains: frozenset[str] = frozenset(),
) -> User:
    if session.exec(select(User).where(User.username == data.username)).first() is not None:
        raise DuplicateUsername(
            f"username {data.username} is taken", details={"username": data.username}
        )
    _check_station_binding(session, data.role, data.station_id)
    check_extension(data.extension, sip_domains=sip_domains)
    now = clock()
    user = User(
        extension=data.extension,
        username=data.username,
        full_name=data.full_name,
        role=data.role,
        station_id=data.station_id,
        password_hash=_hasher.hash(data.password),
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    audit.record(
        session,
        actor=actor,
        entity="user",
        entity_id=user.id,
        action=AuditAction.CREATE,
        after=audit.snapshot(user),
        clock=clock,
    )
    session.commit()
    return user


def get_user(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound(f"user {user_id} does not exist", details={"user_id": user_id})
    return user


def update_user(
    session: Session,
    *,
    user_id: int,
    data: UserUpdate,
    actor: Actor,
    clock: Clock,
    sip_domains: frozenset[str] = frozenset(),
) -> User:
    user = get_user(session, user_id=user_id)
    before = audit.snapshot(user)
    changes = data.model_dump(exclude_unset=True)
    for field in ("role", "is_active", "full_name"):
        if field in changes and changes[field] is None:
            raise InvalidUserData(f"{field} cannot be null", details={"field": field})
    role = changes.get("role", user.role)
    station_id = changes.get("station_id", user.station_id)
    _check_station_binding(session, role, station_id)
    check_extension(changes.get("extension"), sip_domains=sip_domains)
    password = changes.pop("password", None)
    if password is not None:
        user.password_hash = _hasher.hash(password)
    revoking = password is not None or changes.get("is_active") is False
    if revoking or (role, station_id) != (user.role, user.station_id):
        # Tokens issued before a reset, a deactivation, a new role or a move to another
        # station stop working at once: an open console, which took the user's station
        # when it signed in, is closed with them.
        user.token_version += 1
    for field, value in changes.items():
        setattr(user, field, value)
    user.updated_at = clock()
    session.add(user)
    session.flush()
    after = audit.snapshot(user)
    if password is not None:
        after["password_changed"] = True
    audit.record(
        session,
        actor=actor,
        entity="user",
        entity_id=user_id,
        action=AuditAction.UPDATE,
        before=before,
        after=after,
        clock=clock,
    )
    session.commit()
    return user


def list_users(session: Session, *, limit: int = 50, offset: int = 0) -> tuple[list[User], int]:
    total = session.exec(select(func.count()).select_from(User)).one()
    rows = session.exec(select(User).order_by(col(User.id)).limit(limit).offset(offset)).all()
    return list(rows), total


def authenticate(
    session: Session,
    *,
    bus: redis.Redis,
    username: str,
    password: str,
    address: str,
    policy: LoginPolicy,
    clock: Clock,
) -> User:
    """The user whose password this is; failures slow further tries down (LoginPolicy)."""
    key = LOGIN_FAILURES.format(username=username.lower())
    keys = [key, LOGIN_FAILURES_FROM.format(address=address)]
    # redis-py types EVAL's arguments as strings and its reply as ``Awaitable | str``; Redis
    # takes the numbers as their text and the script returns ``{allowed, wait}``.
    allowed, wait = cast(
        "list[int | str | bytes]",
        bus.eval(
            _RESERVE_TRY,
            len(keys),
            *keys,
            str(clock().timestamp()),
            str(policy.max_delay_seconds),
            str(policy.forget_after_seconds),
            str(policy.max_failures),
            str(policy.max_failures_per_address),
        ),
    )
    if not int(allowed):
        retry_after = max(math.ceil(float(wait)), 1)
        raise TooManyRequests(
            f"too many failed logins; try again in {retry_after} s", retry_after=retry_after
        )
    # No username holds NUL, and PostgreSQL would refuse the query: such a name finds nobody.
    user = (
        None
        if "\x00" in username
        else session.exec(select(User).where(User.username == username)).first()
    )
    if not _password_matches(user, password):
        raise NotAuthenticated("wrong username or password")
    # This try was counted as a failure up front. The username starts afresh; the address
    # only has this try taken back, so logging in to one's own account cannot wipe out
    # guesses at others, and a shift of agents behind one address is never slowed.
    bus.delete(key)
    bus.eval(_RELEASE_TRY, 1, keys[1], str(policy.max_failures_per_address))
    assert user is not None
    return user


def _password_matches(user: User | None, password: str) -> bool:
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return user is not None and user.is_active


def issue_token(user: User, *, secret: str, minutes: int, clock: Clock) -> TokenPublic:
    now = clock()
    claims = {
        "sub": str(user.id),
        "ver": user.token_version,
        "role": user.role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
    }
    return TokenPublic(
        access_token=jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM),
        expires_in=minutes * 60,
    )


def actor_from_token(session: Session, *, token: str, secret: str, clock: Clock) -> Actor:
    user_id, version = _token_claims(token, secret=secret, clock=clock)
    return actor_of(_holder(session.get(User, user_id), version))


def revoked_tokens(
    session: Session, *, tokens: Mapping[K, str], secret: str, clock: Clock
) -> dict[K, NotAuthenticated]:
    """Which of ``tokens`` (of open sessions, each under its own key) no longer hold, and
    why, as :func:`actor_from_token` would refuse them: one query for all their users, so
    that checking a whole floor's consoles again costs one round trip, not one each."""
    refused: dict[K, NotAuthenticated] = {}
    holders: dict[K, tuple[int, object]] = {}
    for key, token in tokens.items():
        try:
            holders[key] = _token_claims(token, secret=secret, clock=clock)
        except NotAuthenticated as exc:
            refused[key] = exc
    ids = {user_id for user_id, _ in holders.values()}
    users: dict[int | None, User] = {}
    if ids:
        users = {user.id: user for user in session.exec(select(User).where(col(User.id).in_(ids)))}
    for key, (user_id, version) in holders.items():
        try:
            _holder(users.get(user_id), version)
        except NotAuthenticated as exc:
            refused[key] = exc
    return refused


def _token_claims(token: str, *, secret: str, clock: Clock) -> tuple[int, object]:
    """The user a token names and the token version it was issued under."""
    try:
        # Expiry is judged by the service's clock, the one that issued the token, not by
        # PyJWT's reading of the wall clock.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            options={
                "require": ["exp", "sub"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        user_id = int(claims["sub"])
        expired = float(claims["exp"]) <= clock().timestamp()
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise NotAuthenticated("the access token is invalid or has expired") from exc
    if expired:
        raise NotAuthenticated("the access token is invalid or has expired")
    return user_id, claims.get("ver")


def _holder(user: User | None, version: object) -> User:
    """The user a token was issued to, while the token holds for them."""
    if user is None or not user.is_active:
        raise NotAuthenticated("the access token's user no longer exists or is disabled")
    if version != user.token_version:
        raise NotAuthenticated("the access token was revoked; log in again")
    return user


def station_id_for_code(session: Session, code: str) -> int:
    station = session.exec(select(Station).where(Station.code == code)).first()
    if station is None or station.id is None:
        raise StationNotFound(f"no station has code {code}", details={"code": code})
    return station.id


def set_language(session: Session, *, user_id: int, language: str) -> User:
    """The console's language for this user, wherever they sign in next."""
    user = get_user(session, user_id=user_id)
    user.language = language
    session.add(user)
    session.commit()
    return user
