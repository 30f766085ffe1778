"""Searching what was said in calls, in Chinese, on SQLite (FTS5 trigram) and PostgreSQL
(pg_trgm): a two-character word inside a sentence is found, wildcards are plain text, an
agent finds only the calls it handled."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, select

from callcenter.settings import Settings
from orders import SYSTEM, Actor, CrisisLevel, Role, User
from orders.enums import AuditAction
from orders.models import AuditEntry
from orders.services import complaints
from recordings import Recording, Transcript, TranscriptSegment
from recordings.exceptions import InvalidSearchQuery
from recordings.keywords import find_keywords, is_severe, spot_keywords
from recordings.search import FTS_TABLE, TRIGRAM_INDEX, search_transcripts
from telephony.models import Call
from tests.conftest import OPEN_HOURS, bearer, fixed_clock

LEAK = "您好，我家的洗衣机漏水了，地上全是水"
KEYWORDS = Settings().transcripts.keywords

CLOCK = fixed_clock(OPEN_HOURS)


VISIT = "师傅明天上午过来看看"


@pytest.fixture
def transcribe(db: Session, make_call: Callable[..., Call]) -> Callable[..., Transcript]:
    """A call with a recording and its transcript: ``lines`` are (speaker, text), two
    seconds each."""

    def make(*lines: tuple[str, str], agent_id: int | None = None, minutes: int = 0) -> Transcript:
        moment = OPEN_HOURS + timedelta(minutes=minutes)
        call = make_call(agent_id=agent_id, ringing_at=moment)
        recording = Recording(
            call_id=call.id,
            agent_id=agent_id,
            path=f"/recordings/{call.id}.wav",
            duration_seconds=2.0 * len(lines),
            sha256="0" * 64,
            created_at=moment,
        )
        db.add(recording)
        db.flush()
        assert recording.id is not None
        transcript = Transcript(
            recording_id=recording.id,
            call_id=call.id,
            language="zh",
            model="vosk-model-cn",
            text=" ".join(text for _, text in lines),
            created_at=moment,
        )
        db.add(transcript)
        db.flush()
        assert transcript.id is not None
        for index, (speaker, text) in enumerate(lines):
            db.add(
                TranscriptSegment(
                    transcript_id=transcript.id,
                    speaker=speaker,
                    start_seconds=2.0 * index,
                    end_seconds=2.0 * index + 1.8,
                    text=text,
                )
            )
        db.commit()
        return transcript

    return make


def _search(db: Session, q: str, actor: Actor = SYSTEM) -> list[Any]:
    return search_transcripts(db, q=q, actor=actor, limit=20, offset=0)


def test_a_two_character_word_is_found_inside_a_sentence(
    db: Session, transcribe: Callable[..., Transcript]
) -> None:
    transcript = transcribe(("customer", LEAK), ("agent", VISIT))

    hits = _search(db, "漏水")

    assert [(h.transcript_id, h.speaker, h.start_seconds, h.text) for h in hits] == [
        (transcript.id, "customer", 0.0, LEAK)
    ]
    assert LEAK[hits[0].match_start : hits[0].match_end] == "漏水"
    assert hits[0].call_id == transcript.call_id


def test_newest_calls_come_first_and_a_longer_phrase_narrows(
    db: Session, transcribe: Callable[..., Transcript]
) -> None:
    older = transcribe(("customer", LEAK), minutes=0)
    newer = transcribe(("agent", VISIT), ("customer", "冰箱也漏水"), minutes=30)

    assert [h.transcript_id for h in _search(db, "漏水")] == [newer.id, older.id]
    assert [(h.transcript_id, h.match_start) for h in _search(db, "洗衣机漏水")] == [
        (older.id, LEAK.index("洗衣机"))
    ]
    assert _search(db, "洗衣机漏电") == []


def test_like_wildcards_in_the_query_are_plain_text(
    db: Session, transcribe: Callable[..., Transcript]
) -> None:
    transcribe(("customer", LEAK), ("customer", "满意度100%，谢谢"), ("agent", r"工单a_b\c"))

    assert [h.text for h in _search(db, "%")] == ["满意度100%，谢谢"]
    assert [h.text for h in _search(db, "0%，")] == ["满意度100%，谢谢"]
    assert [h.text for h in _search(db, "_")] == [r"工单a_b\c"]
    assert [h.text for h in _search(db, "a_b\\")] == [r"工单a_b\c"]
    assert _search(db, '"漏水') == []


def test_an_agent_finds_only_the_calls_it_handled(
    db: Session, transcribe: Callable[..., Transcript], make_user: Callable[..., User]
) -> None:
    handler, other = make_user(Role.AGENT), make_user(Role.AGENT)
    supervisor = make_user(Role.SUPERVISOR)
    transcript = transcribe(("customer", LEAK), agent_id=handler.id)

    def seen_by(user: User) -> list[int]:
        actor = Actor(id=user.id, name=user.username, role=user.role)
        return [h.transcript_id for h in _search(db, "漏水", actor)]

    assert seen_by(handler) == [transcript.id]
    assert seen_by(supervisor) == [transcript.id]
    assert seen_by(other) == []


@pytest.mark.parametrize("q", ["", "   ", "水" * 101])
def test_an_empty_or_overlong_query_is_refused(db: Session, q: str) -> None:
    with pytest.raises(InvalidSearchQuery, match="1 to 100 characters"):
        _search(db, q)


def test_a_phrase_of_three_characters_or_more_is_served_by_the_trigram_index(
    db: Session, transcribe: Callable[..., Transcript]
) -> None:
    transcribe(("customer", LEAK))
    with _statements(db) as seen:
        assert len(_search(db, "洗衣机漏水")) == 1
    statement, parameters = seen[-1]
    connection = db.connection()
    if connection.dialect.name == "sqlite":
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        # "VIRTUAL TABLE INDEX 0:M..." is FTS5 answering a MATCH from its index.
        assert any(FTS_TABLE in row[3] and "INDEX 0:M" in row[3] for row in plan), plan
    else:
        # Few rows: a scan would be cheaper; forbid it to see the index can serve the query.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
        assert any(TRIGRAM_INDEX in row[0] for row in plan), plan


def test_the_route_answers_with_hits_and_refuses_a_bad_query(
    client: TestClient, transcribe: Callable[..., Transcript], make_user: Callable[..., User]
) -> None:
    agent = make_user(Role.AGENT)
    transcript = transcribe(("customer", LEAK), agent_id=agent.id)

    found = client.get("/api/transcripts/search", params={"q": "漏水"}, headers=bearer(agent))
    empty = client.get("/api/transcripts/search", params={"q": ""}, headers=bearer(agent))
    station = make_user(Role.ENGINEER)
    refused = client.get("/api/transcripts/search", params={"q": "漏水"}, headers=bearer(station))

    assert found.status_code == 200, found.text
    assert [(h["recording_id"], h["start_seconds"]) for h in found.json()] == [
        (transcript.recording_id, 0.0)
    ]
    assert empty.status_code == 422
    assert empty.json()["error_id"] == "invalid_search_query"
    assert refused.status_code == 403
    # Found: a NUL reached PostgreSQL, which refused it: a 500.
    nul = client.get("/api/transcripts/search", params={"q": "漏\x00水"}, headers=bearer(agent))
    assert nul.status_code == 422, nul.text


def test_keywords_are_found_where_first_said_and_media_makes_it_severe(
    db: Session, transcribe: Callable[..., Transcript]
) -> None:
    threat = "再不来我就打12315投诉，还要找媒体曝光"
    transcript = transcribe(("customer", LEAK), ("customer", threat), ("customer", "我要投诉"))
    assert transcript.id is not None

    spots = find_keywords(db, transcript_id=transcript.id, keywords=Settings().transcripts.keywords)

    assert [(s.keyword, s.start_seconds, s.position) for s in spots] == [
        (word, 2.0, threat.index(word)) for word in ("12315", "投诉", "媒体", "曝光")
    ]
    assert is_severe(spots)
    assert not is_severe(spots[:2])


def test_a_transcript_without_keywords_spots_nothing(
    db: Session, transcribe: Callable[..., Transcript]
) -> None:
    transcript = transcribe(("customer", LEAK), ("agent", VISIT))
    assert transcript.id is not None

    assert find_keywords(db, transcript_id=transcript.id, keywords=["投诉", "曝光"]) == []


@contextlib.contextmanager
def _statements(db: Session) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements run on ``db``'s connection meanwhile, with their parameters."""
    seen: list[tuple[str, Any]] = []
    connection = db.connection()

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


def test_a_threat_of_media_exposure_flags_the_call_once_and_makes_the_complaint_severe(
    client: TestClient,
    db: Session,
    transcribe: Callable[..., Transcript],
    make_customer: Callable[..., Any],
    make_user: Callable[..., User],
) -> None:
    customer = make_customer()
    complaint = complaints.log_complaint(
        db,
        customer_id=customer.id,
        topic="服务态度",
        description="工程师态度差",
        actor=SYSTEM,
        clock=CLOCK,
    )
    quiet = transcribe(("customer", LEAK), ("agent", VISIT))
    threat = transcribe(("agent", VISIT), ("customer", "我要找媒体曝光你们"))
    for made in (quiet, threat):
        made.customer_id = customer.id
        db.add(made)
    db.commit()
    assert quiet.id is not None and threat.id is not None

    nothing = spot_keywords(
        db, transcript_id=quiet.id, keywords=KEYWORDS, actor=SYSTEM, clock=CLOCK
    )
    first = spot_keywords(db, transcript_id=threat.id, keywords=KEYWORDS, actor=SYSTEM, clock=CLOCK)
    db.commit()
    again = spot_keywords(db, transcript_id=threat.id, keywords=KEYWORDS, actor=SYSTEM, clock=CLOCK)
    db.commit()
    boss = bearer(make_user(Role.SUPERVISOR))
    waiting = client.get("/api/transcripts/flags", headers=boss)
    reviewed = client.post(f"/api/transcripts/flags/{threat.call_id}/review", headers=boss)
    after = client.get("/api/transcripts/flags", headers=boss)

    assert (nothing, again) == ([], [])
    assert [(f.keyword, f.speaker, f.start_seconds) for f in first] == [
        ("媒体", "customer", 2.0),
        ("曝光", "customer", 2.0),
    ]
    db.refresh(complaint)
    assert complaint.crisis_level == CrisisLevel.SEVERE
    [raised] = db.exec(
        select(AuditEntry).where(
            AuditEntry.entity == "complaint",
            AuditEntry.entity_id == complaint.id,
            AuditEntry.action == AuditAction.UPDATE,
        )
    ).all()
    assert raised.after is not None and raised.after["crisis_level"] == CrisisLevel.SEVERE
    assert "媒体" in raised.after["rule"] or "曝光" in raised.after["rule"]
    assert sorted((f["call_id"], f["keyword"], f["crisis_level"]) for f in waiting.json()) == [
        (threat.call_id, "媒体", 3),
        (threat.call_id, "曝光", 3),
    ]
    assert reviewed.json() == {"reviewed": 2}
    assert after.json() == []
