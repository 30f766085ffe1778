"""Vocabulary of the outbound engine."""

from __future__ import annotations

from enum import StrEnum


class TaskPurpose(StrEnum):
    """Why the hotline calls (or writes to) a customer."""

    SATISFACTION = "satisfaction"  # 回访: after a completed service
    STATION_FOLLOW_UP = "station_follow_up"  # the station's own 48 h follow-up
    NOTICE_REPAIRED = "notice_repaired"  # 修复通知
    NOTICE_PARTS_ARRIVED = "notice_parts_arrived"  # 配件到货通知
    NOTICE_REPAIR_EXTENDED = "notice_repair_extended"  # 延长修理期通知
    NOTICE_WAITING_PARTS = "notice_waiting_parts"  # 待料通知
    NOTICE_ORDERED_PART_ARRIVED = "notice_ordered_part_arrived"  # 客户预订件到货
    APPOINTMENT_REMINDER = "appointment_reminder"
    BOOKED_CALLBACK = "booked_callback"
    """Booked by the caller in the IVR or offered when the queue overflowed."""
    PROMISED_CALLBACK = "promised_callback"
    """Promised by an agent during a call, for themselves or for anyone."""


class AssigneeKind(StrEnum):
    AGENT = "agent"
    """One agent's own task (VICIdial's USERONLY): handed to anyone once it is overdue."""
    TEAM = "team"
    """Anyone with the task's skill and language (VICIdial's ANYONE)."""
    DIALER = "dialer"
    """The automated dialer: a survey call or message, no agent."""
    STATION = "station"
    """A service station's staff: the station's own follow-up of its repair (§3.4.7)."""


class TaskStatus(StrEnum):
    PENDING = "pending"
    """Created, not yet placed in a calendar."""
    SCHEDULED = "scheduled"
    UNPLACED = "unplaced"
    """No slot fits it before its deadline; reported, kept, placed again when one frees."""
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    """Its attempts or its window ran out without reaching the customer."""
    CANCELLED = "cancelled"


class CampaignMode(StrEnum):
    AGENT_CALL = "agent_call"
    SURVEY_CALL = "survey_call"
    SMS_SURVEY = "sms_survey"
    SMS_NOTICE = "sms_notice"
    """A text telling the customer where their repair stands; nothing is asked."""


class StratumField(StrEnum):
    STATION = "station"
    ENGINEER = "engineer"
    CATEGORY = "category"


class Decision(StrEnum):
    """Why an order completed under a campaign was or was not selected."""

    SELECTED = "selected"
    SELECTED_FOR_COMPLAINT_OWNER = "selected_for_complaint_owner"
    """Selected, with an open complaint: the complaint's owner calls, not the team."""
    NOT_SAMPLED = "not_sampled"
    DO_NOT_CALL = "do_not_call"
    OPTED_OUT = "opted_out"
    RECENTLY_CALLED = "recently_called"
    NO_PHONE = "no_phone"

    @property
    def selected(self) -> bool:
        return self in (Decision.SELECTED, Decision.SELECTED_FOR_COMPLAINT_OWNER)


class ExceptionKind(StrEnum):
    """A day that differs from an agent's weekly shifts."""

    LEAVE = "leave"
    SICK = "sick"
    SHIFT = "shift"
    """Works the given hours that day, whatever the weekly shifts or holidays say."""


class Outcome(StrEnum):
    """How one attempt at an outbound contact ended."""

    SCORE_GIVEN = "score_given"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    WRONG_NUMBER = "wrong_number"
    REFUSED = "refused"
    OPTED_OUT = "opted_out"
    REACHED = "reached"
    """Reached, for a contact that asks no score (a notice, a booked callback)."""
