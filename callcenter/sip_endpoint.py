"""The SIP endpoint built from settings (``callcenter sip`` and the tests)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import redis
from sqlmodel import Session

from callcenter.settings import Settings
from callcenter.wiring import build_switchboard, load_configured_flows
from core.bus import with_events
from core.errors import ConfigurationError
from core.types import Clock
from ivr.speech import load_model
from ivr.tts import PromptCache
from telephony.sip.endpoint import SipConfig, SipEndpoint, local_ip_towards
from telephony.sip.prompts import PromptAudio


def sip_config(settings: Settings) -> SipConfig:
    sip = settings.sip
    if not sip.server or not sip.username:
        raise ConfigurationError(
            "set CALLCENTER_SIP_SERVER and CALLCENTER_SIP_USERNAME to register to the PBX",
            details={"server": sip.server, "username": sip.username},
        )
    if sip.rtp_port_min >= sip.rtp_port_max:
        raise ConfigurationError(
            "CALLCENTER_SIP_RTP_PORT_MIN must be below CALLCENTER_SIP_RTP_PORT_MAX",
            details={"min": sip.rtp_port_min, "max": sip.rtp_port_max},
        )
    return SipConfig(
        server=sip.server,
        port=sip.port,
        username=sip.username,
        password=sip.password.get_secret_value() if sip.password else "",
        local_ip=sip.local_ip or local_ip_towards(sip.server, sip.port),
        local_port=sip.local_port,
        rtp_ports=(sip.rtp_port_min, sip.rtp_port_max),
        register_timeout=sip.register_timeout_seconds,
        survey_calls=sip.survey_calls if settings.callbacks.dialer == "sip" else 0,
    )


def build_endpoint(
    settings: Settings,
    *,
    sessions: Callable[[], AbstractContextManager[Session]],
    client: redis.Redis,
    clock: Clock,
) -> SipEndpoint:
    flows, flow = load_configured_flows(settings)
    speech = load_model(settings.vosk_model) if settings.vosk_model else None
    switchboard = build_switchboard(settings, client, flow=flow, flows=flows, clock=clock)
    return SipEndpoint(
        sip_config(settings),
        sessions=with_events(sessions, switchboard.events),
        client=client,
        switchboard=switchboard,
        prompts=PromptAudio(PromptCache(settings.data_dir / "prompts"), flows),
        speech=speech,
        live_model=settings.vosk_model,
        recordings_dir=settings.recordings_path,
        clock=clock,
    )
