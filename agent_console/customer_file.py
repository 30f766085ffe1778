"""The customer's file (客户服务档案, service-control procedure §4.4): one page with all the
hotline knows of a customer, found by number, name, order or address whether or not they
are on the line. Contact history (calls with their recordings, transcripts and the
agents' notes; the topics of contacts), every order with its history and visits,
installation and maintenance records and plans, complaints, outbound tasks with their
outcomes, and satisfaction scores.

Each long section holds the newest ``FILE_LIMIT`` entries and the count of all of them.
A recording is listed for everyone who may open the file; what was said in it only for
those who may hear it (the console's playback rule), so the file gives away no more than
the player does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, StringConstraints
from sqlalchemy import CompoundSelect, union
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_console.enums import CallOutcome
from agent_console.models import CallNote
from agent_console.services import SUPERVISING
from callbacks import CampaignMode, OutboundTask, Outcome, TaskPurpose, TaskStatus
from core.types import Clock
from orders import (
    HOTLINE_ZONE,
    Actor,
    AppliancePublic,
    AppointmentPublic,
    ComplaintPublic,
    ContactPublic,
    CustomerGrade,
    CustomerHistory,
    CustomerPublic,
    InstallationRecordPublic,
    MaintenancePlanPublic,
    MaintenanceRecordPublic,
    OrderPublic,
    TransitionPublic,
    WorkOrder,
    customer_history,
    find_customers,
    user_names,
)
from recordings import Recording, RecordingKind, Transcript, TranscriptSegment, TranscriptState
from telephony import LIVE, Call, CallChannel, CallState, Direction, Disposition

FILE_LIMIT = 100
"""Entries per section: a dealer's or a mall's file runs to thousands of orders."""
SEARCH_LIMIT = 20
MAX_QUERY = 100
T = TypeVar("T")
Row = TypeVar("Row")


def _no_nul(text: str) -> str:
    # PostgreSQL refuses NUL in text; refused here, it is the caller's 422, not our 500.
    if "\x00" in text:
        raise ValueError("the text holds a NUL character")
    return text


SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY),
    AfterValidator(_no_nul),
]


class CustomerMatches(BaseModel):
    q: str
    items: list[CustomerPublic]
    """Exact finds (the whole number, the order, the very name) first, then by name."""
    total: int
    limit: int


class Section(BaseModel, Generic[T]):
    items: list[T]
    """The newest ``FILE_LIMIT``, newest first."""
    total: int


class FileSegment(BaseModel):
    speaker: str
    start_seconds: float
    text: str


class FileRecording(BaseModel):
    id: int
    kind: RecordingKind
    duration_seconds: float
    created_at: datetime
    transcript_state: TranscriptState
    playable: bool
    """Whether this viewer may hear it: GET /api/recordings/{id}/audio lets them."""
    transcript: list[FileSegment] | None
    """What was said, by speaker; None until transcribed, or when not ``playable``."""


class FileNote(BaseModel):
    agent_name: str
    disposition: CallOutcome | None
    notes: str
    updated_at: datetime


class FileCall(BaseModel):
    id: str
    direction: Direction
    channel: CallChannel
    number: str
    """The customer's end of the line."""
    state: CallState
    disposition: Disposition | None
    queue: str | None
    agent_name: str | None
    order_number: str | None
    ringing_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    recordings: list[FileRecording]
    notes: list[FileNote]


class FileOrder(OrderPublic):
    history: list[TransitionPublic]
    appointments: list[AppointmentPublic]
    station_name: str | None
    engineer_name: str | None


class FileComplaint(ComplaintPublic):
    order_number: str | None
    owner_name: str | None


class FileInstallation(InstallationRecordPublic):
    order_number: str | None


class FileMaintenance(MaintenanceRecordPublic):
    order_number: str | None


class FileCallback(BaseModel):
    id: int
    purpose: TaskPurpose
    mode: CampaignMode
    status: TaskStatus
    order_id: int | None
    order_number: str | None
    phone: str
    deadline_at: datetime
    due_at: datetime | None
    attempts: int
    max_attempts: int
    last_attempt_at: datetime | None
    outcome: str | None
    """How the last attempt ended (callbacks' Outcome), None before the first."""
    score: int | None
    """The score the customer gave in it (a satisfaction callback scored)."""
    note: str
    assignee_name: str | None
    created_at: datetime


class FileScore(BaseModel):
    order_id: int
    order_number: str | None
    score: int
    comment: str
    surveyed_at: datetime | None


class CustomerFile(BaseModel):
    customer: CustomerPublic
    grade: CustomerGrade
    last_satisfaction_score: int | None
    time_zone: str
    """The hotline's zone: every moment of the file is shown in it."""
    generated_at: datetime
    appliances: list[AppliancePublic]
    calls: Section[FileCall]
    contacts: Section[ContactPublic]
    orders: Section[FileOrder]
    installations: list[FileInstallation]
    maintenance_records: list[FileMaintenance]
    maintenance_plans: list[MaintenancePlanPublic]
    complaints: Section[FileComplaint]
    callbacks: Section[FileCallback]
    satisfaction: list[FileScore]


def search_customers(session: Session, *, q: str, region: str = "CN") -> CustomerMatches:
    items, total = find_customers(session, text=q, region=region, limit=SEARCH_LIMIT)
    return CustomerMatches(q=q, items=items, total=total, limit=SEARCH_LIMIT)


def customer_file(
    session: Session, *, customer_id: int, actor: Actor, clock: Clock
) -> CustomerFile:
    """Raises CustomerNotFound."""
    now = clock()
    history = customer_history(session, customer_id=customer_id, limit=FILE_LIMIT, today=now.date())
    tasks, tasks_total = _newest(
        session,
        select(OutboundTask).where(col(OutboundTask.id).in_(_task_ids(customer_id))),
        (col(OutboundTask.created_at).desc(), col(OutboundTask.id).desc()),
    )
    calls, calls_total = _newest(
        session,
        select(Call).where(col(Call.id).in_(_call_ids(history))),
        (col(Call.ringing_at).desc(), col(Call.id).desc()),
    )
    scored = _scored_orders(session, customer_id)
    numbers = _order_numbers(session, history, calls, tasks, scored)
    names = user_names(session, _people(history, calls, tasks))
    scores = _task_scores(tasks, scored)
    return CustomerFile(
        customer=history.customer,
        grade=history.grade,
        last_satisfaction_score=history.last_satisfaction_score,
        time_zone=HOTLINE_ZONE.key,
        generated_at=now,
        appliances=history.appliances,
        calls=Section(
            items=_file_calls(session, calls, actor=actor, numbers=numbers, names=names),
            total=calls_total,
        ),
        contacts=Section(items=history.contacts, total=history.contacts_total),
        orders=Section(items=_file_orders(history), total=history.orders_total),
        installations=[
            FileInstallation(**r.model_dump(), order_number=numbers.get(r.order_id))
            for r in history.installations
        ],
        maintenance_records=[
            FileMaintenance(**r.model_dump(), order_number=numbers.get(r.order_id))
            for r in history.maintenance_records
        ],
        maintenance_plans=history.maintenance_plans,
        complaints=Section(
            items=[_file_complaint(c, numbers, names) for c in history.complaints],
            total=history.complaints_total,
        ),
        callbacks=Section(
            items=[_file_callback(t, numbers, names, scores.get(t.id or 0)) for t in tasks],
            total=tasks_total,
        ),
        satisfaction=[_file_score(order) for order in scored],
    )


def _newest(
    session: Session, query: SelectOfScalar[Row], order_by: tuple[Any, ...]
) -> tuple[list[Row], int]:
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    return list(session.exec(query.order_by(*order_by).limit(FILE_LIMIT)).all()), total


# Each part of a union below reads by an index of its own; the same conditions joined by
# OR would have the database read every call (or task) there is.


def _task_ids(customer_id: int) -> CompoundSelect[int]:
    """The customer's outbound tasks, and those about their orders that name no customer."""
    return union(
        select(OutboundTask.id).where(OutboundTask.customer_id == customer_id),
        select(OutboundTask.id).where(
            col(OutboundTask.order_id).in_(
                select(WorkOrder.id).where(WorkOrder.customer_id == customer_id)
            )
        ),
    )


def _call_ids(history: CustomerHistory) -> CompoundSelect[int]:
    """Calls from the customer's numbers, calls placed for their tasks, and calls tied to
    them by a recording or a contact's topic."""
    customer_id = history.customer.id
    phones = [phone.e164 for phone in history.customer.phones]
    topics = [c.call_id for c in history.contacts if c.call_id]
    return union(
        select(Call.id).where(col(Call.from_e164).in_(phones)),
        select(Call.id).where(col(Call.task_id).in_(_task_ids(customer_id))),
        select(Recording.call_id).where(Recording.customer_id == customer_id),
        select(Call.id).where(col(Call.id).in_(topics)),
    )


def _scored_orders(session: Session, customer_id: int) -> list[WorkOrder]:
    rows = session.exec(
        select(WorkOrder)
        .where(WorkOrder.customer_id == customer_id, col(WorkOrder.satisfaction_score).is_not(None))
        .order_by(col(WorkOrder.surveyed_at).desc(), col(WorkOrder.id).desc())
        .limit(FILE_LIMIT)
    ).all()
    return list(rows)


def _order_numbers(
    session: Session,
    history: CustomerHistory,
    calls: Iterable[Call],
    tasks: Iterable[OutboundTask],
    scored: Iterable[WorkOrder],
) -> dict[int, str]:
    """Numbers of every order the file names: those listed, and older ones that a call, a
    task or a complaint still points to."""
    numbers = {o.order.id: o.order.number for o in history.orders}
    numbers |= {o.id: o.number for o in scored if o.id is not None and o.number}
    wanted = {
        *(c.order_id for c in calls),
        *(t.order_id for t in tasks),
        *(c.order_id for c in history.complaints),
        *(r.order_id for r in history.installations),
        *(r.order_id for r in history.maintenance_records),
    }
    missing = {order_id for order_id in wanted if order_id is not None} - numbers.keys()
    if missing:
        rows = session.exec(
            select(WorkOrder.id, WorkOrder.number).where(col(WorkOrder.id).in_(missing))
        ).all()
        numbers |= {order_id: number for order_id, number in rows if order_id and number}
    return numbers


def _people(
    history: CustomerHistory, calls: Iterable[Call], tasks: Iterable[OutboundTask]
) -> set[int]:
    return {
        *(c.agent_id for c in calls if c.agent_id is not None),
        *(t.assignee_id for t in tasks if t.assignee_id is not None),
        *(c.owner_id for c in history.complaints if c.owner_id is not None),
    }


def _file_calls(
    session: Session,
    calls: list[Call],
    *,
    actor: Actor,
    numbers: dict[int, str],
    names: dict[int, str],
) -> list[FileCall]:
    ids = [call.id for call in calls]
    recordings = session.exec(
        select(Recording)
        .where(col(Recording.call_id).in_(ids))
        .order_by(col(Recording.created_at), col(Recording.id))
    ).all()
    hearable = _hearable(session, actor, {call.id: call for call in calls}, recordings)
    said = _transcripts(session, hearable)
    recorded: dict[str, list[FileRecording]] = defaultdict(list)
    for recording in recordings:
        recorded[recording.call_id].append(_file_recording(recording, hearable, said))
    notes = session.exec(
        select(CallNote).where(col(CallNote.call_id).in_(ids)).order_by(col(CallNote.id))
    ).all()
    names = names | user_names(session, {note.agent_id for note in notes} - names.keys())
    noted: dict[str, list[FileNote]] = defaultdict(list)
    for note in notes:
        noted[note.call_id].append(
            FileNote(
                agent_name=names.get(note.agent_id, str(note.agent_id)),
                disposition=note.disposition,
                notes=note.notes,
                updated_at=note.updated_at,
            )
        )
    return [_file_call(call, numbers, names, recorded[call.id], noted[call.id]) for call in calls]


def _file_call(
    call: Call,
    numbers: dict[int, str],
    names: dict[int, str],
    recordings: list[FileRecording],
    notes: list[FileNote],
) -> FileCall:
    outbound = call.direction is Direction.OUTBOUND
    return FileCall(
        id=call.id,
        direction=call.direction,
        channel=call.channel,
        number=call.to_number if outbound else call.from_e164 or call.from_number,
        state=call.state,
        disposition=call.disposition,
        queue=call.queue,
        agent_name=names.get(call.agent_id) if call.agent_id else None,
        order_number=numbers.get(call.order_id) if call.order_id else None,
        ringing_at=call.ringing_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        recordings=recordings,
        notes=notes,
    )


def _hearable(
    session: Session, actor: Actor, calls: dict[str, Call], recordings: Iterable[Recording]
) -> set[int]:
    """The playback rule of ``services.recording_file``, applied to the whole file at once:
    supervisors hear every call; an agent the calls it handled, and every recorded call of
    the customer it is on the line with now."""
    if actor.role in SUPERVISING:
        return {r.id for r in recordings if r.id is not None}
    current = session.exec(select(Call.customer_ids).where(Call.agent_id == actor.id, LIVE)).all()
    talking_to = {customer for ids in current for customer in ids}
    return {
        r.id
        for r in recordings
        if r.id is not None
        and (calls[r.call_id].agent_id == actor.id or r.customer_id in talking_to)
    }


def _transcripts(session: Session, recording_ids: Collection[int]) -> dict[int, list[FileSegment]]:
    if not recording_ids:
        return {}
    transcripts = session.exec(
        select(Transcript.id, Transcript.recording_id).where(
            col(Transcript.recording_id).in_(recording_ids)
        )
    ).all()
    of_recording = {tid: rid for tid, rid in transcripts if tid is not None}
    said: dict[int, list[FileSegment]] = {rid: [] for rid in of_recording.values()}
    for segment in session.exec(
        select(TranscriptSegment)
        .where(col(TranscriptSegment.transcript_id).in_(of_recording))
        .order_by(col(TranscriptSegment.start_seconds), col(TranscriptSegment.id))
    ):
        said[of_recording[segment.transcript_id]].append(
            FileSegment(
                speaker=segment.speaker, start_seconds=segment.start_seconds, text=segment.text
            )
        )
    return said


def _file_recording(
    recording: Recording, hearable: set[int], said: dict[int, list[FileSegment]]
) -> FileRecording:
    assert recording.id is not None
    return FileRecording(
        id=recording.id,
        kind=recording.kind,
        duration_seconds=recording.duration_seconds,
        created_at=recording.created_at,
        transcript_state=recording.transcript_state,
        playable=recording.id in hearable,
        transcript=said.get(recording.id),
    )


def _file_orders(history: CustomerHistory) -> list[FileOrder]:
    return [
        FileOrder(
            **entry.order.model_dump(),
            history=entry.transitions,
            appointments=entry.appointments,
            station_name=entry.station_name,
            engineer_name=entry.engineer_name,
        )
        for entry in history.orders
    ]


def _file_complaint(
    complaint: ComplaintPublic, numbers: dict[int, str], names: dict[int, str]
) -> FileComplaint:
    return FileComplaint(
        **complaint.model_dump(),
        order_number=numbers.get(complaint.order_id) if complaint.order_id else None,
        owner_name=names.get(complaint.owner_id) if complaint.owner_id else None,
    )


def _task_scores(tasks: list[OutboundTask], scored: list[WorkOrder]) -> dict[int, int]:
    """The score each task brought in. An order keeps only its newest score, so when it was
    asked again (a check after a low one) that score is the newest scored task's."""
    of_order = {o.id: o.satisfaction_score for o in scored if o.satisfaction_score is not None}
    found: dict[int, int] = {}
    for task in tasks:  # newest first
        if task.outcome != Outcome.SCORE_GIVEN or task.id is None or task.order_id is None:
            continue
        score = of_order.pop(task.order_id, None)
        if score is not None:
            found[task.id] = score
    return found


def _file_callback(
    task: OutboundTask, numbers: dict[int, str], names: dict[int, str], score: int | None
) -> FileCallback:
    assert task.id is not None
    return FileCallback(
        id=task.id,
        purpose=task.purpose,
        mode=task.mode,
        status=task.status,
        order_id=task.order_id,
        order_number=numbers.get(task.order_id) if task.order_id else None,
        phone=task.phone,
        deadline_at=task.deadline_at,
        due_at=task.due_at,
        attempts=task.attempts,
        max_attempts=task.max_attempts,
        last_attempt_at=task.last_attempt_at,
        outcome=task.outcome,
        score=score,
        note=task.note,
        assignee_name=names.get(task.assignee_id) if task.assignee_id else None,
        created_at=task.created_at,
    )


def _file_score(order: WorkOrder) -> FileScore:
    assert order.id is not None and order.satisfaction_score is not None
    return FileScore(
        order_id=order.id,
        order_number=order.number,
        score=order.satisfaction_score,
        comment=order.satisfaction_comment,
        surveyed_at=order.surveyed_at,
    )
