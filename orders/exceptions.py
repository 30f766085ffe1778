"""Errors of the orders package (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import Conflict, NotFound, ValidationFailed


class InvalidPhoneNumber(ValidationFailed):
    error_id = "invalid_phone_number"


class CustomerNotFound(NotFound):
    error_id = "customer_not_found"


class ApplianceNotFound(NotFound):
    error_id = "appliance_not_found"


class OrderNotFound(NotFound):
    error_id = "order_not_found"


class StationNotFound(NotFound):
    error_id = "station_not_found"


class UserNotFound(NotFound):
    error_id = "user_not_found"


class InvalidTransition(Conflict):
    error_id = "invalid_transition"


class DuplicateUsername(Conflict):
    error_id = "duplicate_username"


class DuplicateStationCode(Conflict):
    error_id = "duplicate_station_code"


class InvalidOrderData(ValidationFailed):
    error_id = "invalid_order_data"


class InvalidUserData(ValidationFailed):
    error_id = "invalid_user_data"


class InvalidReportRequest(ValidationFailed):
    error_id = "invalid_report_request"


class EscalationNotFound(NotFound):
    error_id = "escalation_not_found"


class EngineerNotAssignable(Conflict):
    error_id = "engineer_not_assignable"


class EngineerNotFound(NotFound):
    error_id = "engineer_not_found"


class ComplaintNotFound(NotFound):
    error_id = "complaint_not_found"


class InvalidComplaintMove(Conflict):
    error_id = "invalid_complaint_move"


class InvalidContact(ValidationFailed):
    error_id = "invalid_contact"


class AppointmentNotFound(NotFound):
    error_id = "appointment_not_found"


class InvalidAppointment(ValidationFailed):
    error_id = "invalid_appointment"


class InvalidHandover(Conflict):
    error_id = "invalid_handover"


class CancellationRequestNotFound(NotFound):
    error_id = "cancellation_request_not_found"


class InvalidCancellationReview(Conflict):
    error_id = "invalid_cancellation_review"


class ServiceRecordMissing(Conflict):
    error_id = "service_record_missing"


class InvalidServiceRecord(Conflict):
    error_id = "invalid_service_record"


class MaintenancePlanNotFound(NotFound):
    error_id = "maintenance_plan_not_found"
