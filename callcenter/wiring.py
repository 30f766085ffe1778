"""What the composition root builds once from settings, for the app, the worker and the
SIP endpoint alike: the flows, the switchboard, the access policy, the Twilio client."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import redis
from sqlmodel import Session

from agent_console import ConsoleConfig, pop_presenter
from agent_console.config import StateLimit
from billing import quote_before_paid_work
from callbacks import follow_up_on_completion, notice_on_news, notice_on_status_change
from callcenter.settings import Settings
from core.bus import BusUnavailable, with_events
from core.errors import ConfigurationError
from core.types import Clock
from ivr.flow import BUILTIN_FLOWS, Flow, load_flows
from orders import add_news_listener, add_precondition, add_status_listener
from orders.services.users import AccessPolicy, LoginPolicy
from recordings import RecordingKind, RetentionPolicy, TranscriptionModel, load_model
from telephony import AgentState
from telephony.switchboard import Switchboard
from telephony.twilio.jobs import twilio_calls_from
from telephony.twilio.ringer import RINGER_GROUP


def load_configured_flows(settings: Settings) -> tuple[dict[str, Flow], Flow]:
    """Every flow of the flows directory, and the one calls run: a name that does not
    exist fails at start, on either channel, never at the first call."""
    flows = load_flows(settings.ivr.flows_dir or BUILTIN_FLOWS)
    if settings.ivr.flow not in flows:
        raise ConfigurationError(
            f"no IVR flow named {settings.ivr.flow}", details={"flows": sorted(flows)}
        )
    return flows, flows[settings.ivr.flow]


def build_switchboard(
    settings: Settings,
    client: redis.Redis,
    *,
    flow: Flow,
    clock: Clock,
    flows: Mapping[str, Flow] | None = None,
) -> Switchboard:
    board = Switchboard.over(
        client,
        flow=flow,
        flows=flows,
        region=settings.phone.default_region,
        clock=clock,
        present_pop=pop_presenter(console_config(settings), clock),
        zone=console_config(settings).zone,
    )
    # Offers made from now on are rung by whichever worker reads them first. With Redis
    # away at start, the ringer makes the group on its first pass instead.
    with contextlib.suppress(redis.RedisError, BusUnavailable):
        board.events.ensure_group(RINGER_GROUP)
    # Agents who became available under an older release are indexed too; with Redis
    # away at start there are no agents to index.
    with contextlib.suppress(redis.RedisError):
        board.acd.presence.index_available()
    return board


def console_config(settings: Settings) -> ConsoleConfig:
    """The console's configuration from the settings (the screen pop and the wall)."""
    console = settings.console
    return ConsoleConfig(
        timezone=console.timezone,
        sla_orders=console.sla_orders,
        live_calls=console.live_calls,
        service_level_warn=console.service_level_warn,
        service_level_alarm=console.service_level_alarm,
        longest_wait_warn_seconds=console.longest_wait_warn_seconds,
        longest_wait_alarm_seconds=console.longest_wait_alarm_seconds,
        state_limits=tuple(
            StateLimit(
                state=AgentState(state),
                reason=reason,
                warn_seconds=limit.warn_seconds,
                alarm_seconds=limit.alarm_seconds,
            )
            for key, limit in console.state_limits.items()
            for state, _, reason in [key.partition(":")]
        ),
    )


def install_rules() -> None:
    """Rules of packages above orders on its status changes, installed wherever orders
    change status (the app, the worker): a paid job starts only with its approved quote."""
    add_precondition(quote_before_paid_work)
    add_status_listener(notice_on_status_change)
    add_status_listener(follow_up_on_completion)
    add_news_listener(notice_on_news)


def access_policy(settings: Settings) -> AccessPolicy:
    auth = settings.auth
    return AccessPolicy(
        login=LoginPolicy(
            max_failures=auth.login_max_failures,
            max_delay_seconds=auth.login_lockout_seconds,
            max_failures_per_address=auth.login_max_failures_per_address,
        ),
        token_minutes=auth.token_minutes,
        sip_domains=settings.sip.domains,
    )


def worker_context(
    settings: Settings,
    *,
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: Clock,
    switchboard: Switchboard,
) -> dict[str, Any]:
    """What jobs run over: the same sessions, Redis, clock and switchboard as the process
    that runs them, and the Twilio channel's configuration and client."""
    install_rules()
    return {
        "sessions": with_events(sessions, switchboard.events),
        "bus": bus,
        "clock": clock,
        "switchboard": switchboard,
        "twilio": settings.twilio,
        "twilio_calls": twilio_calls_from(settings.twilio),
        "public_url": settings.public_url,
        "recordings_dir": settings.recordings_path,
        "hand_over_minutes": settings.callbacks.hand_over_minutes,
        "dialer": settings.callbacks.dialer,
        "claim_timeout": timedelta(seconds=settings.callbacks.claim_timeout_seconds),
        "retention": retention_policy(settings),
        "transcription_model": transcription_model(settings),
        "keywords": settings.transcripts.keywords,
    }


def transcription_model(settings: Settings) -> TranscriptionModel | None:
    """The Vosk model recordings are transcribed with, loaded once per process as its
    worker starts (a missing or unusable model stops the start); None leaves recordings
    untranscribed when no model is configured."""
    return load_model(settings.vosk_model) if settings.vosk_model else None


def retention_policy(settings: Settings) -> RetentionPolicy:
    retention = settings.retention
    return RetentionPolicy(
        days={
            RecordingKind.CALL: retention.call_days,
            RecordingKind.FAULT: retention.fault_days,
            RecordingKind.VOICEMAIL: retention.voicemail_days,
        }
    )
