"""Transcripts in the supervisor's console, in Debian's Chromium: a search for a
two-character word finds the sentence, highlighted, and plays the call from the second
it was said; a call where the customer threatened media exposure waits for review."""

from __future__ import annotations

import wave
from typing import Any

from playwright.sync_api import Browser, expect
from sqlmodel import Session

from orders import SYSTEM, Role
from recordings.keywords import spot_keywords
from recordings.models import Recording, Transcript, TranscriptSegment
from telephony.enums import CallState
from tests.browser_harness import ON_SQLITE, login_page, shot
from tests.conftest import OPEN_HOURS, fixed_clock

pytest_plugins = ["tests.browser_harness"]
pytestmark = ON_SQLITE

LAPTOP = {"width": 1366, "height": 768}
SAID = [
    (0.0, "agent", "您好，家电售后服务热线"),
    (4.0, "customer", "我家的洗衣机漏水了"),
    (8.0, "customer", "再不修好我就找媒体曝光"),
]


def test_a_supervisor_finds_a_word_plays_from_it_and_reviews_a_flagged_call(
    browser: Browser,
    base_url: str,
    app: Any,
    db: Session,
    make_user: Any,
    make_customer: Any,
    make_call: Any,
) -> None:
    customer = make_customer()
    call = make_call(customer_ids=[customer.id], state=CallState.ENDED, ringing_at=OPEN_HOURS)
    path = app.state.recordings_dir / "2025" / "09" / "04" / f"{call.id}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0\0\0" * 8000 * 12)
    recording = Recording(
        call_id=call.id,
        customer_id=customer.id,
        path=str(path),
        channels=2,
        duration_seconds=12.0,
        sha256="0" * 64,
        created_at=OPEN_HOURS,
    )
    db.add(recording)
    db.commit()
    transcript = Transcript(
        recording_id=recording.id or 0,
        call_id=call.id,
        customer_id=customer.id,
        language="zh-CN",
        model="test",
        text=" ".join(text for _, _, text in SAID),
        created_at=OPEN_HOURS,
    )
    db.add(transcript)
    db.commit()
    for start, speaker, text in SAID:
        db.add(
            TranscriptSegment(
                transcript_id=transcript.id or 0,
                speaker=speaker,
                start_seconds=start,
                end_seconds=start + 3,
                text=text,
            )
        )
    db.commit()
    spot_keywords(
        db,
        transcript_id=transcript.id or 0,
        keywords=["媒体", "曝光"],
        actor=SYSTEM,
        clock=fixed_clock(OPEN_HOURS),
    )
    db.commit()
    make_user(Role.SUPERVISOR, username="desk-tr")

    page, _ = login_page(browser, base_url, "desk-tr", LAPTOP)
    page.click("#wall-tab-desks")  # the desks sit behind the live wall
    panel = page.locator("#transcripts")
    expect(panel.locator(".flags li.flag")).to_have_count(2)
    expect(panel.locator(".flags li.flag").first).to_contain_text("严重危机")
    panel.locator("#transcript-q").fill("漏水")
    panel.locator("#transcript-q").press("Enter")
    hit = panel.locator(".transcript-hits li.hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text("漏水")
    expect(hit).to_contain_text("客户 0:04")
    hit.locator("button.play-from").click()
    audio = hit.locator("audio")
    expect(audio).to_have_attribute("data-from", "4")
    page.wait_for_function(
        "() => { const a = document.querySelector('#transcripts li.hit audio');"
        " return a && a.currentTime >= 4; }"
    )
    shot(page, "transcript-search")

    panel.locator(".flags li.flag button.review").first.click()
    expect(panel.locator(".flags li.flag")).to_have_count(0)
    expect(panel.locator(".no-flags")).to_be_visible()
