"""SIP errors (the tree is in core.errors), and the one place pyVoIP's exceptions are
translated into them."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from pyVoIP.SIP import InvalidAccountInfoError, SIPParseError
from pyVoIP.VoIP.VoIP import InvalidStateError, NoPortsAvailableError

from core.errors import CallCenterError


class SipError(CallCenterError):
    status_code = 502
    error_id = "sip_error"


class RegistrarUnreachable(SipError):
    """No answer to REGISTER from the configured server."""

    status_code = 503
    error_id = "sip_registrar_unreachable"


class RegistrationRefused(SipError):
    """The registrar refused our credentials."""

    error_id = "sip_registration_refused"


class SipPortBusy(SipError):
    """Our SIP port is still held: by the attempt before this one, whose socket pyVoIP
    closes from its own thread, or by another process. Worth trying again."""

    status_code = 503
    error_id = "sip_port_busy"


class MediaUnavailable(SipError):
    """No RTP port left for another call."""

    status_code = 503
    error_id = "sip_media_unavailable"


@contextmanager
def map_pyvoip_errors(action: str, *, server: str = "") -> Iterator[None]:
    """Translate what pyVoIP raises while doing ``action`` into our error tree."""
    details = {"server": server} if server else {}
    try:
        yield
    except InvalidAccountInfoError as exc:
        raise RegistrationRefused(f"{server} refused our registration", details=details) from exc
    except (TimeoutError, ConnectionRefusedError) as exc:
        raise RegistrarUnreachable(
            f"no SIP answer from {server} while trying to {action}", details=details
        ) from exc
    except NoPortsAvailableError as exc:
        raise MediaUnavailable(f"no RTP port free to {action}", details=details) from exc
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SipPortBusy(f"our SIP port is in use: {exc}", details=details) from exc
        raise SipError(f"could not {action}: {exc}", details=details) from exc
    except (InvalidStateError, SIPParseError) as exc:
        raise SipError(f"could not {action}: {exc}", details=details) from exc
