"""Keyword spotting: the words in a transcript that call for a supervisor's review.

Which words is configuration (``CALLCENTER_TRANSCRIPTS_KEYWORDS``); how grave they are is
the spec's rule (§6.1.3): a threat of media exposure is a severe crisis, any other word a
potential one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from core.types import Clock
from orders import Actor, CrisisLevel, raise_crisis_level
from recordings.models import KeywordFlag, Transcript, TranscriptSegment

MEDIA_EXPOSURE = frozenset({"曝光", "媒体", "记者"})
"""媒体曝光: the spec's example of a severe crisis."""


@dataclass(frozen=True)
class KeywordSpot:
    """Where a keyword was said first: the console plays from ``start_seconds``."""

    keyword: str
    segment_id: int
    speaker: str
    start_seconds: float
    position: int
    """Where in the segment's text the keyword starts."""


def find_keywords(
    session: Session, *, transcript_id: int, keywords: Iterable[str]
) -> list[KeywordSpot]:
    """Each keyword the transcript holds, at its first saying, in the order said.

    Read from the transcript's own segments (a few hundred at most), not through the
    search index: the job calls this inside the transaction that stores them.
    """
    # Case aside, as search finds them; each keyword once, where it was first said.
    patterns = {keyword: re.compile(re.escape(keyword), re.IGNORECASE) for keyword in keywords}
    segments = session.exec(
        select(TranscriptSegment)
        .where(TranscriptSegment.transcript_id == transcript_id)
        .order_by(col(TranscriptSegment.start_seconds), col(TranscriptSegment.id))
    ).all()
    spots: list[KeywordSpot] = []
    for segment in segments:
        assert segment.id is not None
        said = sorted(
            (found.start(), keyword)
            for keyword, pattern in patterns.items()
            if (found := pattern.search(segment.text))
        )
        for position, keyword in said:
            spots.append(
                KeywordSpot(keyword, segment.id, segment.speaker, segment.start_seconds, position)
            )
            del patterns[keyword]
    return spots


def is_severe(spots: Iterable[KeywordSpot]) -> bool:
    """Whether the spotted words make the crisis severe rather than potential."""
    return any(spot.keyword in MEDIA_EXPOSURE for spot in spots)


def spot_keywords(
    session: Session,
    *,
    transcript_id: int,
    keywords: Iterable[str],
    actor: Actor,
    clock: Clock,
) -> list[KeywordFlag]:
    """Flag each watched word the transcript holds (once per transcript and word, however
    often this runs) and raise the customer's unresolved complaints by the rule: media
    exposure to a severe crisis, any other word to a potential one. Does not commit: the
    transcription job saves the transcript, its flags and the raise together."""
    transcript = session.get(Transcript, transcript_id)
    spots = find_keywords(session, transcript_id=transcript_id, keywords=keywords)
    if transcript is None or not spots:
        return []
    level = CrisisLevel.SEVERE if is_severe(spots) else CrisisLevel.POTENTIAL
    known = set(
        session.exec(
            select(KeywordFlag.keyword).where(KeywordFlag.transcript_id == transcript_id)
        ).all()
    )
    flags = [
        KeywordFlag(
            transcript_id=transcript_id,
            call_id=transcript.call_id,
            segment_id=spot.segment_id,
            keyword=spot.keyword,
            speaker=spot.speaker,
            start_seconds=spot.start_seconds,
            crisis_level=int(level),
            flagged_at=clock(),
        )
        for spot in spots
        if spot.keyword not in known
    ]
    session.add_all(flags)
    if flags and transcript.customer_id is not None:
        said = "、".join(flag.keyword for flag in flags)
        raise_crisis_level(
            session,
            customer_id=transcript.customer_id,
            level=level,
            rule=f"said in call {transcript.call_id}: {said}",
            actor=actor,
            clock=clock,
        )
    session.flush()
    return flags


@dataclass(frozen=True)
class FlaggedCall:
    """A flag as the supervisor's list shows it: what was said, by whom, where to play."""

    id: int
    call_id: str
    recording_id: int
    keyword: str
    speaker: str
    start_seconds: float
    text: str
    crisis_level: int
    flagged_at: datetime
    reviewed_at: datetime | None


def flagged_calls(
    session: Session, *, reviewed: bool, limit: int, offset: int
) -> list[FlaggedCall]:
    """The flags waiting for review (or reviewed), the gravest and newest first."""
    seen = col(KeywordFlag.reviewed_at)
    rows = session.exec(
        select(KeywordFlag, Transcript.recording_id, TranscriptSegment.text)
        .join(Transcript, col(Transcript.id) == KeywordFlag.transcript_id)
        .join(TranscriptSegment, col(TranscriptSegment.id) == KeywordFlag.segment_id)
        .where(seen.is_not(None) if reviewed else seen.is_(None))
        .order_by(col(KeywordFlag.crisis_level).desc(), col(KeywordFlag.flagged_at).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [
        FlaggedCall(
            id=flag.id or 0,
            call_id=flag.call_id,
            recording_id=recording_id,
            keyword=flag.keyword,
            speaker=flag.speaker,
            start_seconds=flag.start_seconds,
            text=text,
            crisis_level=flag.crisis_level,
            flagged_at=flag.flagged_at,
            reviewed_at=flag.reviewed_at,
        )
        for flag, recording_id, text in rows
    ]


def review_call(session: Session, *, call_id: str, actor: Actor, clock: Clock) -> int:
    """A supervisor reviewed the call: its open flags are done. The number closed."""
    flags = session.exec(
        select(KeywordFlag).where(
            KeywordFlag.call_id == call_id, col(KeywordFlag.reviewed_at).is_(None)
        )
    ).all()
    for flag in flags:
        flag.reviewed_at = clock()
        flag.reviewed_by = actor.name
        session.add(flag)
    session.commit()
    return len(flags)
