"""Full-text search over what was said in calls, Chinese included.

Chinese has no spaces between words, so the text is searched for substrings, served by
trigram indexes (migration 0025): SQLite's FTS5 ``trigram`` table, PostgreSQL's
``pg_trgm`` GIN index. A query under three characters (漏水) has no trigram and is
answered by a scan, still correctly.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import column, table
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from orders import Actor, Role
from recordings.exceptions import InvalidSearchQuery
from recordings.models import Recording, Transcript, TranscriptSegment

MAX_QUERY = 100
FTS_TABLE = "transcript_segment_fts"
"""SQLite's FTS5 table over the segments' text (and its shadow tables, named after it)."""
TRIGRAM_INDEX = "ix_transcript_segment_text_trgm"
"""PostgreSQL's GIN trigram index on the segments' text."""
SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})
_TRIGRAM = 3
_fts = table(FTS_TABLE, column("rowid"), column("text"))


class TranscriptHit(BaseModel):
    """One segment that says what was searched for: the console highlights
    ``text[match_start:match_end]`` and plays the recording from ``start_seconds``."""

    transcript_id: int
    recording_id: int
    segment_id: int
    call_id: str
    customer_id: int | None
    order_id: int | None
    recorded_at: datetime
    speaker: str
    start_seconds: float
    end_seconds: float
    text: str
    match_start: int
    match_end: int


def search_transcripts(
    session: Session, *, q: str, actor: Actor, limit: int, offset: int
) -> list[TranscriptHit]:
    """The segments containing ``q`` (case aside, wildcards taken literally), newest calls
    first and in call order within a call.

    Supervisors and admins search every call; an agent only the calls it handled, as the
    playback rule lets it hear them (agent_console's ``_may_hear``, which this package,
    below agent_console, cannot import): the agent recorded on the recording. The other
    case of that rule, a current caller's earlier calls, is for the pop's player, not for
    search.
    """
    needle = q.strip()
    if not needle or len(needle) > MAX_QUERY:
        raise InvalidSearchQuery(
            f"the search text must have 1 to {MAX_QUERY} characters, not {len(needle)}",
            details={"field": "q", "max_length": MAX_QUERY},
        )
    segment = col(TranscriptSegment.text)
    pattern = "%" + _escape_like(needle) + "%"
    sqlite = session.get_bind().dialect.name == "sqlite"
    # ILIKE is what pg_trgm's index serves without case; SQLite's LIKE ignores ASCII case.
    contains = segment.like(pattern, escape="\\") if sqlite else segment.ilike(pattern, "\\")
    query: Any = (
        select(TranscriptSegment, Transcript, Recording)
        .join(Transcript, col(Transcript.id) == TranscriptSegment.transcript_id)
        .join(Recording, col(Recording.id) == Transcript.recording_id)
        .where(contains)
    )
    if sqlite and len(needle) >= _TRIGRAM:
        # SQLite gives FTS5 no LIKE that has an ESCAPE clause, so the index is reached by
        # a phrase MATCH (its trigrams) and the escaped LIKE checks each candidate.
        phrase = '"' + needle.replace('"', '""') + '"'
        matching = core_select(_fts.c.rowid).where(_fts.c.text.match(phrase))
        query = query.where(col(TranscriptSegment.id).in_(matching))
    if actor.role not in SUPERVISING:
        query = query.where(Recording.agent_id == actor.id)
    query = (
        query.order_by(
            col(Recording.created_at).desc(),
            col(Recording.id).desc(),
            col(TranscriptSegment.start_seconds),
            col(TranscriptSegment.id),
        )
        .limit(limit)
        .offset(offset)
    )
    return [_hit(s, t, r, needle) for s, t, r in session.exec(query)]


def _escape_like(text: str) -> str:
    """``text`` matched literally by LIKE ... ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _hit(
    segment: TranscriptSegment, transcript: Transcript, recording: Recording, needle: str
) -> TranscriptHit:
    assert segment.id is not None and transcript.id is not None and recording.id is not None
    # Found case aside, as the database did; positions in the text as stored.
    found = re.search(re.escape(needle), segment.text, re.IGNORECASE)
    start, end = found.span() if found else (0, 0)
    return TranscriptHit(
        transcript_id=transcript.id,
        recording_id=recording.id,
        segment_id=segment.id,
        call_id=transcript.call_id,
        customer_id=transcript.customer_id,
        order_id=transcript.order_id,
        recorded_at=recording.created_at,
        speaker=segment.speaker,
        start_seconds=segment.start_seconds,
        end_seconds=segment.end_seconds,
        text=segment.text,
        match_start=start,
        match_end=end,
    )
