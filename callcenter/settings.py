"""Typed settings read from ``CALLCENTER_*`` environment variables.

Nested groups use one underscore after the group name, so
``CALLCENTER_DATABASE_URL`` sets ``database.url`` and
``CALLCENTER_TWILIO_AUTH_TOKEN`` sets ``twilio.auth_token``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_console import ConsoleConfig
from telephony import AgentState
from telephony.twilio.config import TwilioSettings


class DatabaseSettings(BaseModel):
    url: str | None = None
    echo: bool = False


class RedisSettings(BaseModel):
    url: str | None = None


class AuthSettings(BaseModel):
    secret_key: SecretStr | None = None
    token_minutes: int = Field(default=12 * 60, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    """Failed logins of one username before each further try waits (1 s, 2 s, 4 s ...)."""
    login_lockout_seconds: int = Field(default=300, ge=1)
    """The longest such wait."""
    login_max_failures_per_address: int = Field(default=20, ge=1)
    """Failed logins from one address, over all usernames, before the same slowdown."""


class PhoneSettings(BaseModel):
    default_region: str = "CN"


class HttpSettings(BaseModel):
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_new_calls_in_flight: int = Field(default=8, ge=1, le=32)
    """New calls (POST /twilio/voice) one process answers at once; more get 503 with
    Retry-After. Kept below the 40 request threads, so calls in progress always find one."""
    max_loop_lag_ms: int = Field(default=100, ge=10, le=10_000)
    """How late one process's event loop may run (smoothed) before it refuses new calls the
    same way: past it the CPU is saturated, and every call's pop and step waits for it."""
    max_webhook_answer_ms: int = Field(default=500, ge=10, le=10_000)
    """How long one process's Twilio webhooks may take to be answered (smoothed) before it
    refuses new calls the same way: a caller hears nothing while a webhook is answered."""


class MetricsSettings(BaseModel):
    token: SecretStr | None = None
    """Bearer token for /metrics; without one, only loopback clients may read it."""


class LogSettings(BaseModel):
    level: str = "INFO"
    json_output: bool = False


class SipSettings(BaseModel):
    server: str | None = None
    """Registrar / SIP proxy the endpoint registers to; every request goes through it."""
    port: int = Field(default=5060, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    local_ip: str | None = None
    """Address advertised in Contact and SDP; by default the one that routes to the server."""
    local_port: int = Field(default=5062, ge=1, le=65535)
    rtp_port_min: int = Field(default=20000, ge=1024, le=65534)
    rtp_port_max: int = Field(default=20999, ge=1025, le=65535)
    register_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    extension_domains: list[str] = []
    """SIP domains an admin may use in agents' extensions, besides the SIP server's own."""
    survey_calls: int = Field(default=10, ge=1, le=500)
    """The most automated survey calls the endpoint places at once, when the PBX is the
    survey dialer (``CALLCENTER_CALLBACKS_DIALER=sip``)."""

    @property
    def domains(self) -> frozenset[str]:
        own = {self.server.lower()} if self.server else set()
        return frozenset({d.lower() for d in self.extension_domains} | own)


class RetentionSettings(BaseModel):
    """Days a recording is kept, by kind; a recording under legal hold is kept for good."""

    call_days: int = Field(default=365, ge=1, le=36500)
    fault_days: int = Field(default=730, ge=1, le=36500)
    """A fault in the caller's words belongs with the repair and its warranty."""
    voicemail_days: int = Field(default=90, ge=1, le=36500)


class WorkerSettings(BaseModel):
    heartbeat_stale_seconds: int = Field(default=20, ge=10, le=3600)
    """/readyz fails when no worker has beaten for this long (workers beat every 5 s)."""


class CallbacksSettings(BaseModel):
    hand_over_minutes: int = Field(default=30, ge=1, le=24 * 60)
    """An agent's own callback (a promise made on a call) still not made this long after
    its time goes to any agent (VICIdial's USERONLY callbacks turned ANYONE)."""
    dialer: Literal["twilio", "sip"] = "twilio"
    """The channel that places automated survey calls: Twilio (the worker dials) or the
    PBX (the SIP endpoint, ``callcenter sip``, dials through its registration)."""
    claim_timeout_seconds: int = Field(default=600, ge=5, le=24 * 3600)
    """A survey dial claimed this long ago whose call never reached the channel was lost
    with the process that claimed it: it is dialled again, no attempt counted."""


class IvrSettings(BaseModel):
    flows_dir: Path | None = None
    """Directory of flow YAML files; the built-in hotline flow when unset."""
    flow: str = "hotline"


class TranscriptsSettings(BaseModel):
    keywords: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = [
        "投诉",
        "曝光",
        "12315",
        "媒体",
        "记者",
        "律师",
    ]
    """Words that flag a call for a supervisor's review when a transcript holds them
    (``CALLCENTER_TRANSCRIPTS_KEYWORDS``, a JSON list)."""


_CONSOLE = ConsoleConfig()


class StateLimitSettings(BaseModel):
    warn_seconds: int = Field(ge=1)
    alarm_seconds: int = Field(ge=1)

    @model_validator(mode="after")
    def _alarm_after_warning(self) -> StateLimitSettings:
        if self.alarm_seconds < self.warn_seconds:
            raise ValueError("alarm_seconds is shorter than warn_seconds")
        return self


def _default_state_limits() -> dict[str, StateLimitSettings]:
    return {
        limit.state.value + (f":{limit.reason}" if limit.reason else ""): StateLimitSettings(
            warn_seconds=limit.warn_seconds, alarm_seconds=limit.alarm_seconds
        )
        for limit in _CONSOLE.state_limits
    }


class ConsoleSettings(BaseModel):
    """The console and the supervisor's wall (``CALLCENTER_CONSOLE_*``); the defaults are
    ConsoleConfig's, where each is explained."""

    timezone: str = _CONSOLE.timezone
    sla_orders: int = Field(default=_CONSOLE.sla_orders, ge=1, le=100)
    live_calls: int = Field(default=_CONSOLE.live_calls, ge=1, le=500)
    service_level_warn: float = Field(default=_CONSOLE.service_level_warn, ge=0, le=1)
    service_level_alarm: float = Field(default=_CONSOLE.service_level_alarm, ge=0, le=1)
    longest_wait_warn_seconds: float = Field(default=_CONSOLE.longest_wait_warn_seconds, gt=0)
    longest_wait_alarm_seconds: float = Field(default=_CONSOLE.longest_wait_alarm_seconds, gt=0)
    state_limits: dict[str, StateLimitSettings] = Field(default_factory=_default_state_limits)
    """How long an agent may stay in a state before the wall warns, by state, or by
    ``break:REASON`` (a JSON object, e.g. ``{"wrap_up": {"warn_seconds": 120,
    "alarm_seconds": 300}}``); the whole table is replaced, states left out never warn."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("state_limits")
    @classmethod
    def _known_states(cls, value: dict[str, StateLimitSettings]) -> dict[str, StateLimitSettings]:
        for key in value:
            if key.partition(":")[0] not in set(AgentState):
                raise ValueError(f"{key!r} names no agent state")
        return value

    @model_validator(mode="after")
    def _alarms_after_warnings(self) -> ConsoleSettings:
        if self.service_level_alarm > self.service_level_warn:
            raise ValueError("service_level_alarm is above service_level_warn")
        if self.longest_wait_alarm_seconds < self.longest_wait_warn_seconds:
            raise ValueError("longest_wait_alarm_seconds is shorter than the warning's")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CALLCENTER_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

    data_dir: Path = Path("./callcenter-data")
    public_url: str | None = None
    recordings_dir: Path | None = None
    vosk_model: Path | None = None
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    auth: AuthSettings = AuthSettings()
    phone: PhoneSettings = PhoneSettings()
    http: HttpSettings = HttpSettings()
    log: LogSettings = LogSettings()
    twilio: TwilioSettings = TwilioSettings()
    sip: SipSettings = SipSettings()
    ivr: IvrSettings = IvrSettings()
    worker: WorkerSettings = WorkerSettings()
    callbacks: CallbacksSettings = CallbacksSettings()
    metrics: MetricsSettings = MetricsSettings()
    transcripts: TranscriptsSettings = TranscriptsSettings()
    retention: RetentionSettings = RetentionSettings()
    console: ConsoleSettings = ConsoleSettings()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'callcenter.sqlite3').resolve()}"

    @property
    def recordings_path(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    @property
    def embedded_database(self) -> bool:
        return self.database.url is None

    @property
    def embedded_redis(self) -> bool:
        return self.redis.url is None
