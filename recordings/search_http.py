"""The transcript search route: the console's search box, each hit a place to play from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from core.deps import ClockDep, SessionDep
from orders import NoNul
from orders.http import Limit, Offset, Staff, Supervisor
from recordings.keywords import FlaggedCall, flagged_calls, review_call
from recordings.search import MAX_QUERY, TranscriptHit, search_transcripts

router = APIRouter(prefix="/transcripts", tags=["recordings"])
CallId = Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$")]


@router.get("/search")
def search(
    session: SessionDep,
    actor: Staff,
    q: Annotated[
        str, Query(description=f"The text to find, 1 to {MAX_QUERY} characters"), NoNul
    ] = "",
    offset: Offset = 0,
    limit: Limit = 20,
) -> list[TranscriptHit]:
    """Segments of transcripts containing ``q``, newest calls first; supervisors and admins
    search every call, an agent the calls it handled."""
    return search_transcripts(session, q=q, actor=actor, limit=limit, offset=offset)


@router.get("/flags")
def flags(
    session: SessionDep,
    _actor: Supervisor,
    reviewed: bool = False,
    offset: Offset = 0,
    limit: Limit = 50,
) -> list[FlaggedCall]:
    """Watched words said in calls (投诉, 曝光, 12315...), waiting for a supervisor's
    review (or reviewed), the gravest first; each plays from ``start_seconds``."""
    return flagged_calls(session, reviewed=reviewed, limit=limit, offset=offset)


@router.post("/flags/{call_id}/review")
def review(
    session: SessionDep, actor: Supervisor, clock: ClockDep, call_id: CallId
) -> dict[str, int]:
    """The supervisor listened to the call: its flags are closed."""
    return {"reviewed": review_call(session, call_id=call_id, actor=actor, clock=clock)}
