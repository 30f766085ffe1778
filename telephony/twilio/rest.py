"""Calls placed and steered through Twilio's REST API, with its errors translated at this
boundary: ``TwilioAuthFailed`` (401 / 20003: wrong account SID or auth token),
``TwilioAccountInactive`` (10001, 20005, 90010: the account is suspended or not active),
``TwilioInvalidNumber`` (21211, 21217, 13223: the "To" number is not callable; 21614: not
a mobile number, for a text),
``TwilioRateLimited`` (429 / 20429, still limited after the retries), else ``TwilioError``.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import requests
import structlog
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from telephony.twilio.errors import (
    TwilioAccountInactive,
    TwilioAuthFailed,
    TwilioError,
    TwilioInvalidNumber,
    TwilioRateLimited,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

_INVALID_NUMBER_CODES = {21211, 21217, 13223, 21614}
_RATE_LIMIT_CODES = {20429}
_ACCOUNT_INACTIVE_CODES = {10001, 20005, 90010}


def map_twilio_error(exc: TwilioRestException) -> TwilioError:
    details = {"twilio_status": exc.status, "twilio_code": exc.code, "twilio_message": exc.msg}
    message = f"Twilio refused the request: {exc.msg} (code {exc.code}, HTTP {exc.status})"
    # Before the credentials: a suspended account's refusal may come as a 401 too.
    if exc.code in _ACCOUNT_INACTIVE_CODES:
        return TwilioAccountInactive(message, details=details)
    if exc.status == 401 or exc.code == 20003:
        return TwilioAuthFailed(message, details=details)
    if exc.code in _INVALID_NUMBER_CODES:
        return TwilioInvalidNumber(message, details=details)
    if exc.status == 429 or exc.code in _RATE_LIMIT_CODES:
        return TwilioRateLimited(message, details=details)
    return TwilioError(message, details=details)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    first_delay: float = 0.5
    factor: float = 2.0


@dataclass(frozen=True)
class OutboundCall:
    to: str
    from_: str
    url: str
    """Our TwiML URL for the call, e.g. the survey flow for this callback."""
    status_callback: str
    machine_detection: bool = False
    ring_seconds: int | None = None


@dataclass(frozen=True)
class CallAtTwilio:
    status: str
    """Twilio's CallStatus: ``in-progress``, ``completed``..."""
    ended_at: datetime | None
    """When the call ended; None while it goes on, and for a call that never connected
    (busy, no answer, cancelled)."""
    changed_at: datetime | None
    """When Twilio last changed the call."""


class TwilioCalls:
    """Places calls; built once in the composition root with the account's credentials."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        base_url: str | None = None,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 10.0,
    ) -> None:
        self._credentials = (account_sid, auth_token)
        self._base_url = base_url
        self._timeout = timeout
        self._idle: queue.SimpleQueue[Client] = queue.SimpleQueue()
        self.retry = retry
        self.sleep = sleep

    def _client(self) -> Client:
        client = Client(*self._credentials, http_client=TwilioHttpClient(timeout=self._timeout))
        if self._base_url is not None:
            client.api.base_url = self._base_url
        return client

    def _with_client(self, request: Callable[[Client], T]) -> T:
        """Runs ``request`` on a client no other thread uses meanwhile: a client's HTTP
        layer keeps each response on itself, so two threads sharing one (a ring job and
        a steer) could be handed each other's response, or none. Clients are kept for the
        next request, with their connections: as many as requests were ever in flight."""
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = self._client()
        try:
            return request(client)
        finally:
            self._idle.put(client)

    def steer(self, sid: str, *, twiml: str | None = None, url: str | None = None) -> None:
        """Give a live call new instructions (inline TwiML, or a URL of ours to fetch
        them from): how an agent's leg is parked, bridged again or hung up."""
        options: dict[str, Any] = {"twiml": twiml} if twiml is not None else {}
        if url is not None:
            options.update(url=url, method="POST")
        self._with_retries(lambda: self._with_client(lambda c: c.calls(sid).update(**options)))

    def cancel(self, sid: str) -> None:
        """Stop a call that is still ringing (Twilio's ``canceled``); one already answered
        goes on, as Twilio leaves an in-progress call alone for this status."""
        self._with_retries(
            lambda: self._with_client(lambda c: c.calls(sid).update(status="canceled"))
        )

    def status_of(self, sid: str) -> CallAtTwilio | None:
        """Twilio's word on a call now; None when Twilio knows no call of that SID on
        this account."""

        def fetch(client: Client) -> CallAtTwilio | None:
            try:
                call = client.calls(sid).fetch()
            except TwilioRestException as exc:
                if exc.status == 404:
                    return None
                raise
            return CallAtTwilio(
                status=str(call.status or ""), ended_at=call.end_time, changed_at=call.date_updated
            )

        return self._with_retries(lambda: self._with_client(fetch))

    def place_call(self, call: OutboundCall) -> str:
        """The new call's SID; rate limits are retried with exponential backoff."""
        options: dict[str, Any] = {
            "to": call.to,
            "from_": call.from_,
            "url": call.url,
            "method": "POST",
            "status_callback": call.status_callback,
            "status_callback_method": "POST",
            "status_callback_event": ["initiated", "ringing", "answered", "completed"],
        }
        if call.machine_detection:
            options["machine_detection"] = "Enable"
        if call.ring_seconds is not None:
            options["timeout"] = call.ring_seconds
        return str(
            self._with_retries(lambda: self._with_client(lambda c: c.calls.create(**options).sid))
        )

    def send_message(self, *, to: str, from_: str, body: str) -> str:
        """Send an SMS through Twilio Messaging; the new message's SID."""
        return str(
            self._with_retries(
                lambda: self._with_client(
                    lambda c: c.messages.create(to=to, from_=from_, body=body).sid
                )
            )
        )

    def _with_retries(self, request: Callable[[], T]) -> T:
        """Rate limits are retried with exponential backoff; other errors translated."""
        delay = self.retry.first_delay
        attempt = 1
        while True:
            try:
                return request()
            except TwilioRestException as exc:
                error = map_twilio_error(exc)
                if not isinstance(error, TwilioRateLimited) or attempt >= self.retry.attempts:
                    raise error from exc
                log.warning("twilio rate limited, retrying", attempt=attempt, delay=delay)
                self.sleep(delay)
                delay *= self.retry.factor
                attempt += 1
            except (TwilioException, requests.RequestException) as exc:
                raise TwilioError(f"could not reach Twilio: {exc}") from exc
