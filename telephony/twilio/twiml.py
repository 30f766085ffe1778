"""IVR turns rendered as TwiML, always through the SDK's VoiceResponse."""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Gather, Start, VoiceResponse

from ivr import Ask, Enqueue, Hangup, Say, Turn

QUEUE_WAIT_PATH = "/twilio/queue/wait"
QUEUE_DONE_PATH = "/twilio/queue/done"
GATHER_PATH = "/twilio/gather"
RECORDING_PATH = "/twilio/recording"
VOICEMAIL_DONE_PATH = "/twilio/voicemail/done"
AGENT_PARK_PATH = "/twilio/agent/park"
VOICEMAIL_MAX_SECONDS = 120
MEDIA_PATH = "/twilio/media"
STREAM_TOKEN_PARAMETER = "token"


@dataclass(frozen=True)
class MediaStreamGrant:
    """The call's Media Stream: where it connects, and the token that admits it."""

    url: str
    token: str


def websocket_base(public_url: str) -> str:
    return public_url.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def render(
    turn: Turn, *, call_id: str, record: bool = False, stream: MediaStreamGrant | None = None
) -> str:
    response = VoiceResponse()
    if record or stream is not None:
        # The recording (both sides) and the stream run to the end of the call, whatever
        # TwiML follows.
        start = Start()
        if record:
            start.recording(
                recording_status_callback=f"{RECORDING_PATH}?call={call_id}",
                recording_status_callback_method="POST",
                recording_status_callback_event="completed",
                channels="dual",
                track="both",
            )
        if stream is not None:
            # Twilio hands a stream's parameters back in its start frame (see stream_token).
            start.stream(url=stream.url).parameter(name=STREAM_TOKEN_PARAMETER, value=stream.token)
        response.append(start)
    for action in turn.actions:
        if isinstance(action, Say):
            response.say(action.text, language=turn.language)
        elif isinstance(action, Ask):
            response.append(_gather(action, turn.language, call_id))
            # Twilio posts to the action even on silence (actionOnEmptyResult), so the
            # engine sees the timeout; this Redirect only runs if that post fails.
            response.redirect(f"{GATHER_PATH}?call={call_id}", method="POST")
        elif isinstance(action, Enqueue):
            _enqueue(response, call_id)
        elif isinstance(action, Hangup):
            response.hangup()
    return str(response)


def _enqueue(response: VoiceResponse, call_id: str) -> None:
    # One Twilio queue per caller: our ACD decides who is next, and the agent's leg dials
    # exactly this caller's queue.
    response.enqueue(
        twilio_queue_name(call_id),
        wait_url=f"{QUEUE_WAIT_PATH}?call={call_id}",
        wait_url_method="POST",
        action=f"{QUEUE_DONE_PATH}?call={call_id}",
        method="POST",
    )


def wait_again(call_id: str) -> str:
    """Back into the caller's own queue: held by the agent, or transferred to another."""
    response = VoiceResponse()
    _enqueue(response, call_id)
    return str(response)


def leave_queue() -> str:
    """Out of the queue, on to the Enqueue's action (``QueueResult=leave``): the overflow."""
    response = VoiceResponse()
    response.leave()
    return str(response)


def on_hold(language: str) -> str:
    response = VoiceResponse()
    text = "您的通话正在保持中，请稍候。" if language.startswith("zh") else "Please hold."
    response.say(text, language=language)
    response.pause(length=10)
    return str(response)


def voicemail(prompt: str, language: str, *, call_id: str) -> str:
    """Ask for a message and record it; the recording reaches us like the call's own."""
    response = VoiceResponse()
    response.say(prompt, language=language)
    response.record(
        action=f"{VOICEMAIL_DONE_PATH}?call={call_id}",
        method="POST",
        finish_on_key="#",
        max_length=VOICEMAIL_MAX_SECONDS,
        play_beep=True,
        # Named in the callback's URL, which Twilio signs: filed and kept as a voicemail.
        recording_status_callback=f"{RECORDING_PATH}?call={call_id}&kind=voicemail",
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    return str(response)


def goodbye(text: str, language: str) -> str:
    response = VoiceResponse()
    response.say(text, language=language)
    response.hangup()
    return str(response)


def agent_parked(call_id: str, language: str = "zh-CN") -> str:
    """The agent's leg while the caller is held: quiet, looping until a resume steers it."""
    response = VoiceResponse()
    text = "客户通话保持中。" if language.startswith("zh") else "The caller is on hold."
    response.say(text, language=language)
    response.pause(length=60)
    response.redirect(f"{AGENT_PARK_PATH}?call={call_id}", method="POST")
    return str(response)


def twilio_queue_name(call_id: str) -> str:
    return f"call-{call_id}"


def dial_customer(number: str, caller_id: str) -> str:
    """The agent's leg of a callback the agent placed: ring the customer, then talk."""
    response = VoiceResponse()
    dial = Dial(caller_id=caller_id, record="record-from-answer-dual")
    dial.number(number)
    response.append(dial)
    return str(response)


def connect_agent(call_id: str) -> str:
    response = VoiceResponse()
    dial = Dial()
    dial.queue(twilio_queue_name(call_id))
    response.append(dial)
    return str(response)


def consult_room(call_id: str) -> str:
    """The two agents of an attended transfer talk here while the caller is held. Nobody's
    leaving ends it for the other: each leg is steered out when the consultation ends."""
    response = VoiceResponse()
    dial = Dial()
    dial.conference(
        f"consult-{call_id}",
        beep=False,
        start_conference_on_enter=True,
        end_conference_on_exit=False,
    )
    response.append(dial)
    return str(response)


def caller_gone(language: str = "zh-CN") -> str:
    response = VoiceResponse()
    text = "该来电已结束。" if language.startswith("zh") else "This caller is no longer waiting."
    response.say(text, language=language)
    response.hangup()
    return str(response)


def _gather(ask: Ask, language: str, call_id: str) -> Gather:
    options: dict[str, object] = {
        "input": ask.accept,
        "action": f"{GATHER_PATH}?call={call_id}",
        "method": "POST",
        "language": language,
        "timeout": ask.timeout_seconds,
        "action_on_empty_result": True,
    }
    if ask.num_digits is not None:
        options["num_digits"] = ask.num_digits
    if ask.finish_on_key is not None:
        options["finish_on_key"] = ask.finish_on_key
    if "speech" in ask.accept:
        options["speech_timeout"] = "auto"
        if ask.hints:
            options["hints"] = ",".join(ask.hints)
    gather = Gather(**options)
    for prompt in ask.prompts:
        gather.say(prompt, language=language)
    return gather


def queue_wait(position: int | None, language: str) -> str:
    response = VoiceResponse()
    if position is not None and position > 1:
        text = (
            f"您前面还有{position - 1}位客户，请耐心等候。"
            if language.startswith("zh")
            else f"There are {position - 1} callers ahead of you. Please hold."
        )
        response.say(text, language=language)
    response.pause(length=10)
    return str(response)


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def message(text: str | None) -> str:
    """The reply to an incoming text: the message, or nothing at all."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
