"""The one error tree of the service; every error leaves as problem JSON (error_id,
message, details) with its status. Each package keeps its errors in its ``exceptions``
module (a channel in its ``errors`` module), vendor errors are translated where the vendor
is called (``raise ... from exc``), and this tree is the one place they are all written
down (tests/test_error_tree.py holds it to the code).

CallCenterError                                    500  base: status_code, error_id, details
├── ConfigurationError                             500  the service cannot start as configured
│   ├── ivr.FlowError                              500
│   ├── ivr.SpeechUnavailable                      500
│   └── recordings.TranscriptionUnavailable        500
├── Conflict                                       409  clashes with the current state
│   ├── billing.InvalidQuote                       409
│   ├── billing.InvalidSlip                        409
│   ├── billing.QuoteRequired                      409
│   ├── callbacks.CallNotAllowed                   409
│   ├── callbacks.DuplicateCampaign                409
│   ├── callbacks.DuplicateDncEntry                409
│   ├── callbacks.InvalidOutcome                   409
│   ├── orders.DuplicateStationCode                409
│   ├── orders.DuplicateUsername                   409
│   ├── orders.EngineerNotAssignable               409
│   ├── orders.InvalidCancellationReview           409
│   ├── orders.InvalidComplaintMove                409
│   ├── orders.InvalidHandover                     409
│   ├── orders.InvalidServiceRecord                409
│   ├── orders.InvalidTransition                   409
│   ├── orders.ServiceRecordMissing                409
│   ├── parts.DuplicatePartCode                    409
│   ├── parts.DuplicateWarehouse                   409
│   ├── parts.InvalidPartRequest                   409
│   ├── parts.NoStationWarehouse                   409
│   ├── parts.OutOfStock                           409
│   ├── telephony.AgentUnavailable                 409
│   ├── telephony.CallNotBridged                   409
│   ├── telephony.ConsultationNotReady             409
│   ├── telephony.ConsultationUnderWay             409
│   ├── telephony.InvalidAgentState                409
│   │   ├── telephony.AgentMovedMeanwhile          409
│   │   ├── telephony.AgentNotOffered              409
│   │   ├── telephony.AgentNotOnCall               409
│   │   └── telephony.CallStillConnected           409
│   ├── telephony.InvalidCallTransition            409
│   ├── telephony.NoSuchOffer                      409
│   └── telephony.TransferInvalid                  409
├── NotAuthenticated                               401
├── NotFound                                       404
│   ├── agent_console.RecordingNotFound            404
│   ├── billing.QuoteNotFound                      404
│   ├── billing.SlipNotFound                       404
│   ├── callbacks.CampaignNotFound                 404
│   ├── callbacks.DncEntryNotFound                 404
│   ├── callbacks.TaskNotFound                     404
│   ├── orders.ApplianceNotFound                   404
│   ├── orders.AppointmentNotFound                 404
│   ├── orders.CancellationRequestNotFound         404
│   ├── orders.ComplaintNotFound                   404
│   ├── orders.CustomerNotFound                    404
│   ├── orders.EngineerNotFound                    404
│   ├── orders.EscalationNotFound                  404
│   ├── orders.MaintenancePlanNotFound             404
│   ├── orders.OrderNotFound                       404
│   ├── orders.StationNotFound                     404
│   ├── orders.UserNotFound                        404
│   ├── parts.BorrowedPartNotFound                 404
│   ├── parts.LoanNotFound                         404
│   ├── parts.MaterialLineNotFound                 404
│   ├── parts.PartNotFound                         404
│   ├── parts.PartOrderNotFound                    404
│   ├── parts.PartRequestNotFound                  404
│   ├── parts.WarehouseNotFound                    404
│   ├── recordings.RecordingMissing                404
│   ├── recordings.TranscriptNotReady              404
│   ├── telephony.AgentNotFound                    404
│   └── telephony.CallNotFound                     404
├── PayloadTooLarge                                413
├── PermissionDenied                               403
│   └── telephony.twilio.InvalidTwilioSignature    403
├── TooManyRequests                                429
├── ValidationFailed                               422  well formed, not acceptable
│   ├── billing.InvalidFeeSchedule                 422
│   ├── billing.InvalidStatementRequest            422
│   ├── callbacks.InvalidCalendar                  422
│   ├── callbacks.InvalidTaskQuery                 422
│   ├── orders.InvalidAppointment                  422
│   ├── orders.InvalidContact                      422
│   ├── orders.InvalidOrderData                    422
│   ├── orders.InvalidPhoneNumber                  422
│   ├── orders.InvalidReportRequest                422
│   ├── orders.InvalidUserData                     422
│   ├── parts.InvalidPart                          422
│   ├── parts.InvalidStockMove                     422
│   ├── recordings.AudioUnreadable                 422
│   ├── recordings.InvalidSearchQuery              422
│   ├── recordings.UnsafeRecordingPath             422
│   ├── telephony.twilio.InvalidTwilioId           422
│   ├── telephony.twilio.MalformedWebhook          422
│   └── telephony.twilio.RecordingRefused          422
├── core.bus.BusUnavailable                        503  any Redis error, translated
├── core.db.DatabaseBusy                           503  SQLite locked too long
├── ivr.PromptUnavailable                          500
│   ├── ivr.PromptRenderFailed                     500
│   └── ivr.RecordedPromptInvalid                  500
├── ivr.SpeechRecognitionFailed                    500
├── telephony.sip.SipError                         502  pyVoIP's errors, translated
│   ├── telephony.sip.MediaUnavailable             503
│   ├── telephony.sip.RegistrarUnreachable         503
│   ├── telephony.sip.RegistrationRefused          502
│   └── telephony.sip.SipPortBusy                  503
├── telephony.twilio.JobsUnavailable               503
├── telephony.twilio.MediaFetchFailed              502  httpx's errors, translated
├── telephony.twilio.TwilioError                   502  the Twilio SDK's errors, translated
│   ├── telephony.twilio.TwilioAccountInactive     502
│   ├── telephony.twilio.TwilioAuthFailed          502
│   ├── telephony.twilio.TwilioInvalidNumber       422
│   └── telephony.twilio.TwilioRateLimited         503
└── telephony.twilio.TwilioNotConfigured           503
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field


class CallCenterError(Exception):
    status_code: ClassVar[int] = 500
    error_id: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def headers(self) -> dict[str, str]:
        return {}


class ConfigurationError(CallCenterError):
    error_id = "configuration_error"


class NotFound(CallCenterError):
    status_code = 404
    error_id = "not_found"


class Conflict(CallCenterError):
    status_code = 409
    error_id = "conflict"


class ValidationFailed(CallCenterError):
    status_code = 422
    error_id = "validation_error"


class NotAuthenticated(CallCenterError):
    status_code = 401
    error_id = "not_authenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class PermissionDenied(CallCenterError):
    status_code = 403
    error_id = "permission_denied"


class TooManyRequests(CallCenterError):
    status_code = 429
    error_id = "too_many_requests"

    def __init__(
        self, message: str, *, retry_after: int, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details={"retry_after": retry_after, **(details or {})})
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class PayloadTooLarge(CallCenterError):
    status_code = 413
    error_id = "payload_too_large"


class Problem(BaseModel):
    """Body of every error response."""

    error_id: str = Field(examples=["invalid_transition"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
