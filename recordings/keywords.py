"""Keyword spotting: the words in a transcript that call for a supervisor's review.

Which words is configuration (``CALLCENTER_TRANSCRIPTS_KEYWORDS``); how grave they are is
the spec's rule (§6.1.3): a threat of media exposure is a severe crisis, any other word a
potential one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from recordings.models import TranscriptSegment

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
