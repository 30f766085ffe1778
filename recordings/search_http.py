"""The transcript search route: the console's search box, each hit a place to play from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.deps import SessionDep
from orders.http import Limit, Offset, Staff
from recordings.search import MAX_QUERY, TranscriptHit, search_transcripts

router = APIRouter(prefix="/transcripts", tags=["recordings"])


@router.get("/search")
def search(
    session: SessionDep,
    actor: Staff,
    q: Annotated[str, Query(description=f"The text to find, 1 to {MAX_QUERY} characters")] = "",
    offset: Offset = 0,
    limit: Limit = 20,
) -> list[TranscriptHit]:
    """Segments of transcripts containing ``q``, newest calls first; supervisors and admins
    search every call, an agent the calls it handled."""
    return search_transcripts(session, q=q, actor=actor, limit=limit, offset=offset)
