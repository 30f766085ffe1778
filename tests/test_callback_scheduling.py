"""Placing callback tasks in agents' calendars: working hours in the agent's zone (China's
holidays and make-up days, days off, extra shifts), calling hours in the customer's zone,
capacity, skills, languages, personal tasks, taken slots, DST, the load rule, the reasons
for what does not fit, and moving a sick agent's tasks.

Pure tests: no database, no clock. Every moment is a fixed date of 2026, a year
``chinese_calendar`` knows. The properties are checked against an oracle written apart
from the module: working hours worked out again from the rules, and local times turned into
instants by scanning the wall clock minute by minute.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from callbacks.scheduling import (
    AgentCalendar,
    CallingHours,
    Intervals,
    Placement,
    Schedule,
    TaskToPlace,
    Unplaced,
    free_slots,
    place,
    reassign,
    slot_length,
)
from orders import BusinessCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
OFFICE = {str(day): [["09:00", "12:00"], ["13:00", "18:00"]] for day in range(1, 6)}
"""Monday to Friday, 09:00-18:00 with a lunch break."""
CALL_SHANGHAI = CallingHours(SHANGHAI)
HOUR = timedelta(hours=1)


def local(zone: ZoneInfo, *fields: int) -> datetime:
    """A wall-clock time of ``zone``, as UTC."""
    return datetime(*fields, tzinfo=zone).astimezone(UTC)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def agent(
    agent_id: int,
    *,
    zone: str = "Asia/Shanghai",
    hours: dict[str, list[list[str]]] | None = None,
    capacity: int = 6,
    days_off: Iterable[date] = (),
    overrides: dict[date, Intervals] | None = None,
    skills: Iterable[str] = (),
    languages: Iterable[str] = (),
) -> AgentCalendar:
    calendar = BusinessCalendar.of(
        time_zone=zone, working_hours=OFFICE if hours is None else hours, closures=days_off
    )
    return AgentCalendar(
        agent_id,
        calendar,
        capacity,
        overrides=overrides or {},
        skills=frozenset(skills),
        languages=frozenset(languages),
    )


def task(
    key: int,
    earliest: datetime,
    deadline: datetime | None = None,
    *,
    hours: CallingHours = CALL_SHANGHAI,
    priority: int = 0,
    skill: str | None = None,
    language: str | None = None,
    agent_id: int | None = None,
) -> TaskToPlace:
    return TaskToPlace(
        key,
        earliest,
        earliest + 48 * HOUR if deadline is None else deadline,
        hours,
        priority=priority,
        skill=skill,
        language=language,
        agent_id=agent_id,
    )


# The oracle


@cache
def _minutes(zone: ZoneInfo, day: date) -> tuple[tuple[datetime, time], ...]:
    """Every minute of a local day as (instant, wall time), in time order."""
    moment = datetime.combine(day, time(0), zone).astimezone(UTC) - 2 * HOUR
    found = []
    for _ in range(28 * 60):
        shown = moment.astimezone(zone)
        if shown.date() == day:
            found.append((moment, shown.time()))
        moment += timedelta(minutes=1)
    return tuple(found)


@cache
def first_showing(zone: ZoneInfo, day: date, at: time) -> datetime:
    """The first instant of ``day`` at which the wall clock shows ``at`` or later: when it
    shows ``at`` first, or when it jumps over it."""
    minutes = _minutes(zone, day)
    return next((moment for moment, shown in minutes if shown >= at), minutes[-1][0] + HOUR)


def working_hours(calendar: AgentCalendar, day: date) -> Intervals:
    """The hours of a local day, worked out again from the rules."""
    if day in calendar.overrides:
        return calendar.overrides[day]
    if day in calendar.calendar.closures or not chinese_calendar.is_workday(day):
        return ()
    weekday = day.isoweekday() if day.isoweekday() <= 5 else 1
    return calendar.calendar.hours.get(weekday, ())


def inside_working_hours(calendar: AgentCalendar, start: datetime, end: datetime) -> bool:
    zone = calendar.calendar.zone
    day = start.astimezone(zone).date()
    return any(
        first_showing(zone, day, low) <= start and end <= first_showing(zone, day, high)
        for low, high in working_hours(calendar, day)
    )


def inside_calling_hours(hours: CallingHours, moment: datetime) -> bool:
    shown = moment.astimezone(hours.zone)
    return shown.isoweekday() in hours.weekdays and hours.start <= shown.time() < hours.end


def assert_valid(
    schedule: Schedule,
    tasks: Sequence[TaskToPlace],
    agents: Sequence[AgentCalendar],
    *,
    taken: Sequence[tuple[int, datetime]] = (),
    not_before: datetime | None = None,
) -> None:
    """Every task once, every placement where it may be, no slot twice, capacity kept."""
    by_key = {t.key: t for t in tasks}
    by_id = {a.agent_id: a for a in agents}
    outcomes = [p.key for p in schedule.placements] + [u.key for u in schedule.unplaced]
    assert sorted(outcomes) == sorted(by_key)
    assert all(u.reason for u in schedule.unplaced)
    starts: dict[int, list[datetime]] = defaultdict(list)
    for agent_id, moment in taken:
        starts[agent_id].append(moment)
    for placement in schedule.placements:
        t, calendar = by_key[placement.key], by_id[placement.agent_id]
        assert_placed_well(placement, t, calendar, not_before)
        assert not any(
            agent_id == placement.agent_id and placement.start <= moment < placement.end
            for agent_id, moment in taken
        ), f"{placement} reuses a taken slot"
        starts[placement.agent_id].append(placement.start)
    for agent_id, moments in starts.items():
        assert len(set(moments)) == len(moments), f"two tasks in one slot of agent {agent_id}"
        capacity = by_id[agent_id].capacity_per_hour
        for first in moments:
            in_window = sum(first <= moment < first + HOUR for moment in moments)
            assert in_window <= capacity, f"agent {agent_id}: {in_window} calls from {first}"


def assert_placed_well(
    placement: Placement, t: TaskToPlace, calendar: AgentCalendar, not_before: datetime | None
) -> None:
    zone = calendar.calendar.zone
    day = placement.start.astimezone(zone).date()
    length = timedelta(microseconds=math.ceil(3_600_000_000 / calendar.capacity_per_hour))
    assert placement.end - placement.start == length
    assert inside_working_hours(calendar, placement.start, placement.end), placement
    assert day not in calendar.calendar.closures or day in calendar.overrides
    assert inside_calling_hours(t.hours, placement.start), (placement, t.hours.describe())
    assert max(t.earliest, not_before or t.earliest) <= placement.start
    assert placement.end <= t.deadline
    assert t.agent_id in (None, calendar.agent_id)
    assert t.skill is None or t.skill in calendar.skills
    assert t.language is None or t.language in calendar.languages


# Random calendars and tasks, over weeks with a change of clocks or a holiday

ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Asia/Kolkata")


@dataclass(frozen=True)
class Week:
    """The days from ``first`` on, around a ``day`` that matters in ``zone``."""

    first: date
    zone: str
    day: date


WEEKS = (
    Week(date(2026, 3, 5), "America/New_York", date(2026, 3, 8)),  # springs forward
    Week(date(2026, 3, 26), "Europe/Berlin", date(2026, 3, 29)),  # springs forward
    Week(date(2026, 10, 22), "Europe/Berlin", date(2026, 10, 25)),  # falls back
    Week(date(2026, 10, 29), "America/New_York", date(2026, 11, 1)),  # falls back
    Week(date(2026, 2, 12), "Asia/Shanghai", date(2026, 2, 14)),  # a make-up Saturday
    Week(date(2026, 9, 28), "Asia/Shanghai", date(2026, 10, 1)),  # National Day
)
SKILLS = ("washer", "fridge")
LANGUAGES = ("zh", "en")
CAPACITIES = (1, 2, 3, 7, 12)
"""7 gives slots that are not a whole number of seconds."""
NOTABLE_SHIFTS: tuple[Intervals, ...] = (
    ((time(1), time(4)),),  # across a change of clocks
    ((time(2, 30), time(5)),),  # starting inside a spring-forward gap, or a repeated hour
    ((time(9), time(12)), (time(13), time(18))),
    ((time(0), time(6)), (time(7), time(23))),
)


def quarter(index: int) -> time:
    return time(index // 4, index % 4 * 15)


@st.composite
def shifts(draw: st.DrawFn) -> Intervals:
    if draw(st.booleans()):
        return draw(st.sampled_from(NOTABLE_SHIFTS))
    marks = sorted(draw(st.sets(st.integers(0, 95), min_size=2, max_size=4)))
    return tuple((quarter(a), quarter(b)) for a, b in zip(marks[::2], marks[1::2], strict=False))


@st.composite
def calendars(draw: st.DrawFn, agent_id: int, week: Week) -> AgentCalendar:
    days = [week.first + timedelta(days=offset) for offset in range(-1, 6)]
    weekly = {
        str(weekday): [[a.isoformat("minutes"), b.isoformat("minutes")] for a, b in draw(shifts())]
        for weekday in sorted(
            draw(st.just({1, 2, 3, 4, 5}) | st.sets(st.integers(1, 7), min_size=1))
        )
    }
    extra_days = draw(st.sets(st.sampled_from(days), max_size=2) | st.just({week.day}))
    days_off = draw(st.sets(st.sampled_from([d for d in days if d not in extra_days]), max_size=2))
    return agent(
        agent_id,
        zone=draw(st.just(week.zone) | st.sampled_from(ZONES)),
        hours=weekly,
        capacity=draw(st.sampled_from(CAPACITIES)),
        days_off=days_off,
        overrides={day: draw(st.just(()) | shifts()) for day in sorted(extra_days)},
        skills=draw(st.sets(st.sampled_from(SKILLS))),
        languages=draw(st.sets(st.sampled_from(LANGUAGES))),
    )


@st.composite
def calling_hours(draw: st.DrawFn, week: Week) -> CallingHours:
    zone = ZoneInfo(draw(st.just(week.zone) | st.sampled_from(ZONES)))
    start, end = sorted(draw(st.sets(st.integers(0, 95), min_size=2, max_size=2)))
    weekdays = draw(st.just(frozenset(range(1, 8))) | st.frozensets(st.integers(1, 7), min_size=1))
    return draw(
        st.sampled_from(
            [
                CallingHours(zone),
                CallingHours(zone, time(0), time(23, 45)),  # calls at night too
                CallingHours(zone, quarter(start), quarter(end), weekdays),
            ]
        )
    )


moments = st.integers(0, 4 * 86400)


@st.composite
def tasks_from(draw: st.DrawFn, week: Week, count: int) -> list[TaskToPlace]:
    start = datetime.combine(week.first, time(0), UTC)
    # A few shared moments make tasks compete for the same slots; one is the eve of the
    # week's day, so that tasks land on it.
    eve = datetime.combine(week.day, time(0), ZoneInfo(week.zone)) - 2 * HOUR
    rushes = [eve, *(start + timedelta(seconds=s) for s in draw(st.lists(moments, max_size=2)))]
    found = []
    for key in range(count):
        earliest = draw(
            st.sampled_from(rushes) | moments.map(lambda s: start + timedelta(seconds=s))
        )
        minutes = draw(st.just(48 * 60) | st.integers(-60, 60 * 60))
        found.append(
            task(
                key,
                earliest,
                earliest + timedelta(minutes=minutes),
                hours=draw(calling_hours(week)),
                priority=draw(st.integers(0, 2)),
                skill=draw(st.none() | st.none() | st.sampled_from(SKILLS)),
                language=draw(st.none() | st.none() | st.sampled_from(LANGUAGES)),
                agent_id=draw(st.none() | st.none() | st.integers(1, 5)),
            )
        )
    return found


@dataclass(frozen=True)
class Scenario:
    start: datetime
    agents: list[AgentCalendar]
    tasks: list[TaskToPlace]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    week = draw(st.sampled_from(WEEKS))
    start = datetime.combine(week.first, time(0), UTC)
    agents = [draw(calendars(i, week)) for i in range(1, draw(st.integers(1, 4)) + 1)]
    return Scenario(start, agents, draw(tasks_from(week, draw(st.integers(0, 30)))))


PROPERTY = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(scenarios())
def test_every_task_is_placed_where_it_may_be_or_reported(scenario: Scenario) -> None:
    schedule = place(scenario.tasks, scenario.agents)

    assert_valid(schedule, scenario.tasks, scenario.agents)
    assert place(scenario.tasks[::-1], scenario.agents[::-1]) == schedule


@PROPERTY
@given(scenarios(), st.integers(0, 3 * 86400))
def test_a_sick_agents_tasks_move_to_the_others_or_are_reported(
    scenario: Scenario, seconds_later: int
) -> None:
    plan = place(scenario.tasks, scenario.agents)
    counts = Counter(p.agent_id for p in plan.placements)
    sick = min(counts, key=lambda agent_id: (-counts[agent_id], agent_id), default=1)
    now = scenario.start + timedelta(seconds=seconds_later)
    by_key = {t.key: t for t in scenario.tasks}
    moved = [(by_key[p.key], p) for p in plan.placements if p.agent_id == sick and p.end > now]
    taken = [(p.agent_id, p.start) for p in plan.placements if p.agent_id != sick]

    schedule = reassign(moved, scenario.agents, taken=taken, now=now)

    others = [a for a in scenario.agents if a.agent_id != sick]
    assert_valid(schedule, [t for t, _ in moved], others, taken=taken, not_before=now)


# Time zones and changes of clocks


def test_a_berlin_customer_is_called_when_both_the_agent_and_the_customer_are_in_hours() -> None:
    """09:00 in Berlin (summer time) is 15:00 in Shanghai: the first moment inside both."""
    monday_night = local(SHANGHAI, 2026, 6, 8, 8, 0)

    schedule = place([task(1, monday_night, hours=CallingHours(BERLIN))], [agent(1), agent(2)])

    assert schedule.placements == (
        Placement(1, 1, local(BERLIN, 2026, 6, 8, 9, 0), local(BERLIN, 2026, 6, 8, 9, 10)),
    )
    assert local(SHANGHAI, 2026, 6, 8, 15, 0) == schedule.placements[0].start


def test_a_customers_weekdays_and_hours_are_kept_in_their_own_zone() -> None:
    """Kolkata is 2.5 h behind Shanghai: 10:00-11:00 there is 12:30-13:30 here, and the
    agent's lunch leaves 13:00-13:30; Monday is not allowed, so Tuesday."""
    hours = CallingHours(KOLKATA, time(10), time(11), frozenset({2, 3}))

    schedule = place([task(1, local(SHANGHAI, 2026, 6, 8, 0, 0), hours=hours)], [agent(1)])

    assert [p.start for p in schedule.placements] == [local(KOLKATA, 2026, 6, 9, 10, 30)]


def test_a_shift_across_spring_forward_holds_its_real_hours_only() -> None:
    """New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT. 01:00-04:00 is two real hours;
    a shift from 02:30, a time that never shows, starts when the clock jumps."""
    sunday = date(2026, 3, 8)
    across = agent(
        1, zone="America/New_York", capacity=1, overrides={sunday: ((time(1), time(4)),)}
    )
    from_gap = replace(across, overrides={sunday: ((time(2, 30), time(5)),)})
    day = (utc(2026, 3, 8, 0), utc(2026, 3, 9, 0))

    assert across.slots(*day) == [
        (utc(2026, 3, 8, 6), utc(2026, 3, 8, 7)),  # 01:00 EST
        (utc(2026, 3, 8, 7), utc(2026, 3, 8, 8)),  # 03:00 EDT
    ]
    assert from_gap.slots(*day) == [
        (utc(2026, 3, 8, 7), utc(2026, 3, 8, 8)),  # 03:00 EDT, the jump
        (utc(2026, 3, 8, 8), utc(2026, 3, 8, 9)),
    ]
    assert [start.astimezone(NEW_YORK).strftime("%H:%M %Z") for start, _ in across.slots(*day)] == [
        "01:00 EST",
        "03:00 EDT",
    ]


def test_a_shift_across_fall_back_holds_the_repeated_hour_and_slots_keep_their_length() -> None:
    """Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET. 01:00-04:00 is four real
    hours, 02:00 shows twice, and slots of 3600/7 s stay exact across the change."""
    sunday = date(2026, 10, 25)
    berlin = agent(1, zone="Europe/Berlin", capacity=2, overrides={sunday: ((time(1), time(4)),)})
    day = (utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))

    starts = [start for start, _ in berlin.slots(*day)]

    assert starts == [utc(2026, 10, 24, 23) + k * timedelta(minutes=30) for k in range(8)]
    assert [start.astimezone(BERLIN).strftime("%H:%M %Z") for start in starts[2:6]] == [
        "02:00 CEST",
        "02:30 CEST",
        "02:00 CET",
        "02:30 CET",
    ]
    sevens = replace(berlin, capacity_per_hour=7).slots(*day)
    assert len(sevens) == 27  # 4 h / (3600/7 s, rounded up to the microsecond) = 27.99...
    assert {end - start for start, end in sevens} == {timedelta(microseconds=514_285_715)}


def test_no_hour_holds_more_calls_than_the_capacity() -> None:
    """Slots of 3600/7 s, rounded up: any eight consecutive ones span more than an hour."""
    agents = [agent(1, capacity=7)]
    tasks = [task(key, local(SHANGHAI, 2026, 6, 8, 9, 0)) for key in range(60)]

    schedule = place(tasks, agents)

    assert len(schedule.placements) == 60
    assert_valid(schedule, tasks, agents)
    starts = sorted(p.start for p in schedule.placements)
    assert starts[7] - starts[0] == timedelta(microseconds=7 * 514_285_715)


# China's holidays, make-up days, days off and extra shifts


def test_holidays_close_a_day_and_a_make_up_day_works_mondays_hours() -> None:
    hours = {"1": [["08:00", "10:00"]], **{str(d): [["09:00", "17:00"]] for d in range(2, 6)}}
    calendar = agent(1, hours=hours, capacity=1, days_off=[date(2026, 10, 9)])

    def day(*fields: int) -> list[datetime]:
        midnight = local(SHANGHAI, *fields, 0, 0)
        return [start for start, _ in calendar.slots(midnight, midnight + 24 * HOUR)]

    assert day(2026, 10, 1) == []  # National Day, a Thursday
    assert day(2026, 10, 9) == []  # the agent's day off
    assert day(2026, 10, 10) == [  # the make-up Saturday works Monday's 08:00-10:00
        local(SHANGHAI, 2026, 10, 10, 8, 0),
        local(SHANGHAI, 2026, 10, 10, 9, 0),
    ]
    assert len(day(2026, 10, 8)) == 8
    extra = replace(calendar, overrides={date(2026, 10, 2): ((time(10), time(12)),)})
    assert [
        start
        for start, _ in extra.slots(
            local(SHANGHAI, 2026, 10, 2, 0, 0), local(SHANGHAI, 2026, 10, 3, 0, 0)
        )
    ] == [
        local(SHANGHAI, 2026, 10, 2, 10, 0),
        local(SHANGHAI, 2026, 10, 2, 11, 0),
    ]


def test_a_callback_due_over_national_day_waits_for_the_first_working_day() -> None:
    before_the_holiday = local(SHANGHAI, 2026, 9, 30, 18, 30)

    schedule = place([task(1, before_the_holiday, before_the_holiday + 10 * 24 * HOUR)], [agent(1)])

    assert [p.start for p in schedule.placements] == [local(SHANGHAI, 2026, 10, 8, 9, 0)]


def test_overlapping_shifts_give_no_overlapping_slots() -> None:
    overlapping = {"1": [["09:00", "12:00"], ["11:00", "13:00"]]}
    monday = local(SHANGHAI, 2026, 6, 8, 0, 0)

    slots = agent(1, hours=overlapping, capacity=1).slots(monday, monday + 24 * HOUR)

    assert [start for start, _ in slots] == [
        local(SHANGHAI, 2026, 6, 8, hour, 0) for hour in (9, 10, 11, 12)
    ]


def test_an_extra_saturday_shift_is_worked() -> None:
    saturday = date(2026, 6, 13)
    weekend_agent = agent(2, overrides={saturday: ((time(10), time(11)),)})
    friday_evening = local(SHANGHAI, 2026, 6, 12, 18, 30)

    schedule = place([task(1, friday_evening)], [agent(1), weekend_agent])

    assert schedule.placements == (
        Placement(1, 2, local(SHANGHAI, 2026, 6, 13, 10, 0), local(SHANGHAI, 2026, 6, 13, 10, 10)),
    )


# What does not fit, and why


@pytest.mark.parametrize(
    ("the_task", "reason"),
    [
        (
            task(1, local(SHANGHAI, 2026, 6, 12, 18, 30), local(SHANGHAI, 2026, 6, 13, 12, 0)),
            "no free slot before the deadline inside the customer's calling hours "
            "(09:00-20:00 Asia/Shanghai): none of the agents who could take it works then",
        ),
        (
            # The 09:00 slot ends at 09:10, after the deadline.
            task(1, local(SHANGHAI, 2026, 6, 8, 8, 0), local(SHANGHAI, 2026, 6, 8, 9, 5)),
            "no free slot before the deadline inside the customer's calling hours "
            "(09:00-20:00 Asia/Shanghai): none of the agents who could take it works then",
        ),
        (
            task(
                1,
                local(SHANGHAI, 2026, 6, 8, 0, 0),
                hours=CallingHours(BERLIN, time(19), time(20), frozenset({6, 7})),
            ),
            "no free slot before the deadline inside the customer's calling hours "
            "(19:00-20:00 Europe/Berlin Sat,Sun): none of the agents who could take it works then",
        ),
        (
            task(1, utc(2026, 6, 8, 2), utc(2026, 6, 8, 2)),
            "the window closes before it opens "
            "(earliest 2026-06-08T02:00:00+00:00, deadline 2026-06-08T02:00:00+00:00)",
        ),
        (task(1, utc(2026, 6, 8, 2), skill="dryer"), "no agent with skill 'dryer'"),
        (task(1, utc(2026, 6, 8, 2), language="fr"), "no agent who speaks 'fr'"),
        (
            task(1, utc(2026, 6, 8, 2), skill="washer", language="en"),
            "no agent with skill 'washer' who speaks 'en'",
        ),
        (
            task(1, utc(2026, 6, 8, 2), agent_id=9),
            "agent 9 of a personal task is not among the available agents",
        ),
        (
            task(1, utc(2026, 6, 8, 2), agent_id=2, skill="washer"),
            "agent 2 of a personal task lacks skill 'washer'",
        ),
    ],
)
def test_a_task_that_fits_nowhere_says_why(the_task: TaskToPlace, reason: str) -> None:
    agents = [agent(1, skills=["washer"], languages=["zh"]), agent(2, languages=["en"])]
    # A horizon wider than the window: a slot running past the deadline exists.
    june = (utc(2026, 6, 1), utc(2026, 7, 1))

    assert place([the_task], agents, horizon=june) == Schedule((), (Unplaced(1, reason),))


def test_a_task_with_no_agents_at_all_says_so() -> None:
    assert place([task(1, utc(2026, 6, 8, 2))], []) == Schedule(
        (), (Unplaced(1, "no agents are available"),)
    )


def test_a_fully_booked_window_says_so() -> None:
    one_hour = {date(2026, 6, 8): ((time(9), time(10)),)}
    agents = [agent(1, capacity=1, overrides=one_hour)]
    monday = local(SHANGHAI, 2026, 6, 8, 8, 0)

    schedule = place(
        [task(1, monday, monday + 3 * HOUR), task(2, monday, monday + 4 * HOUR)], agents
    )

    assert [p.key for p in schedule.placements] == [1]
    assert schedule.unplaced == (
        Unplaced(
            2,
            "no free slot before the deadline inside the customer's calling hours "
            "(09:00-20:00 Asia/Shanghai): every slot of the agents who could take it is taken",
        ),
    )


# The rule: priority, earliest, load


def test_load_spreads_over_idle_agents_at_the_same_moment() -> None:
    monday = local(SHANGHAI, 2026, 6, 8, 9, 0)

    schedule = place([task(1, monday), task(2, monday)], [agent(2), agent(1)])

    assert [(p.key, p.agent_id, p.start) for p in schedule.placements] == [
        (1, 1, monday),
        (2, 2, monday),
    ]


def test_tasks_already_in_a_calendar_count_towards_the_load_and_keep_their_slot() -> None:
    monday = local(SHANGHAI, 2026, 6, 8, 9, 0)
    taken = [(1, monday), (1, monday + HOUR)]

    schedule = place(
        [task(1, monday), task(2, monday), task(3, monday)], [agent(1), agent(2)], taken=taken
    )

    assert [(p.key, p.agent_id, p.start) for p in schedule.placements] == [
        (1, 2, monday),  # agent 1 is taken at 09:00
        (2, 2, monday + timedelta(minutes=10)),  # agent 2 has one call, agent 1 two
        (3, 1, monday + timedelta(minutes=10)),  # two calls each: the lower id
    ]


def test_many_tasks_spread_evenly() -> None:
    agents = [agent(agent_id) for agent_id in range(1, 5)]
    tasks = [task(key, local(SHANGHAI, 2026, 6, 8, 9, 0)) for key in range(40)]

    schedule = place(tasks, agents)

    assert Counter(p.agent_id for p in schedule.placements) == {1: 10, 2: 10, 3: 10, 4: 10}
    assert max(p.start for p in schedule.placements) == local(SHANGHAI, 2026, 6, 8, 10, 30)


def test_the_load_counts_tasks_placed_since_a_moment_was_first_looked_at() -> None:
    """Agent 2 takes a personal task after the first task looked at 09:00: at 09:00,
    agent 3 now has fewer calls."""
    nine = local(SHANGHAI, 2026, 6, 8, 9, 0)
    tasks = [
        task(1, nine, priority=3),
        task(2, nine + HOUR, priority=2, agent_id=2),
        task(3, nine, priority=1),
    ]

    schedule = place(tasks, [agent(1), agent(2), agent(3)])

    assert [(p.key, p.agent_id, p.start) for p in schedule.placements] == [
        (1, 1, nine),
        (2, 2, nine + HOUR),
        (3, 3, nine),
    ]


def test_priority_goes_before_the_deadline() -> None:
    only_slot = {date(2026, 6, 8): ((time(9), time(10)),)}
    monday = local(SHANGHAI, 2026, 6, 8, 8, 0)
    urgent, routine = task(1, monday, priority=1), task(2, monday, monday + 2 * HOUR)

    schedule = place([routine, urgent], [agent(1, capacity=1, overrides=only_slot)])

    assert [p.key for p in schedule.placements] == [1]
    assert [u.key for u in schedule.unplaced] == [2]


def test_the_same_input_in_any_order_gives_the_same_plan() -> None:
    rng = random.Random(20260608)
    agents = [
        agent(i, zone=rng.choice(["Asia/Shanghai", "Asia/Kolkata"]), capacity=rng.choice([2, 6]))
        for i in range(1, 6)
    ]
    start = local(SHANGHAI, 2026, 6, 8, 0, 0)
    tasks = [
        task(
            key,
            start + timedelta(minutes=rng.randrange(5 * 24 * 60)),
            hours=rng.choice([CALL_SHANGHAI, CallingHours(BERLIN)]),
            priority=rng.randrange(3),
        )
        for key in range(300)
    ]

    first = place(tasks, agents)
    rng.shuffle(tasks)
    rng.shuffle(agents)

    assert place(tasks, agents) == first
    assert len(first.placements) + len(first.unplaced) == 300
    assert_valid(first, tasks, agents)


# Free times for a caller, and moving a sick agent's tasks


def test_free_slots_offer_distinct_free_times_inside_the_calling_hours() -> None:
    agents = [agent(1, capacity=2), agent(2, capacity=2)]
    nine = local(SHANGHAI, 2026, 6, 8, 9, 0)
    taken = [(1, nine), (2, nine), (1, nine + HOUR / 2)]
    hours = CallingHours(SHANGHAI, time(9), time(11))

    def offered(start: datetime, limit: int = 10) -> list[datetime]:
        return free_slots(
            agents, taken=taken, hours=hours, start=start, end=start + 48 * HOUR, limit=limit
        )

    half_hours = [nine + k * HOUR / 2 for k in range(1, 4)]
    assert offered(nine - HOUR) == half_hours + [nine + 24 * HOUR + k * HOUR / 2 for k in range(4)]
    assert offered(nine - HOUR, limit=2) == half_hours[:2]
    assert offered(nine + timedelta(minutes=10), limit=1) == [nine + HOUR / 2]


def test_a_sick_agents_tasks_go_to_the_others_and_its_personal_ones_are_reported() -> None:
    agents = [agent(1), agent(2), agent(3, skills=["washer"])]
    monday = local(SHANGHAI, 2026, 6, 8, 9, 0)
    now = local(SHANGHAI, 2026, 6, 8, 10, 0)
    tasks = [task(1, monday), task(2, monday, agent_id=1), task(3, monday + 2 * HOUR)]
    moved = [
        (tasks[0], Placement(1, 1, monday + 2 * HOUR, monday + 2 * HOUR + timedelta(minutes=10))),
        (tasks[1], Placement(2, 1, monday + 3 * HOUR, monday + 3 * HOUR + timedelta(minutes=10))),
        (tasks[2], Placement(3, 1, monday + 4 * HOUR, monday + 4 * HOUR + timedelta(minutes=10))),
    ]
    taken = [(2, now), (3, now), (3, now + HOUR)]

    schedule = reassign(moved, agents, taken=taken, now=now)

    assert [(p.key, p.agent_id, p.start) for p in schedule.placements] == [
        (1, 2, now + timedelta(minutes=10)),  # 10:00 is taken on both; 2 has fewer calls
        (3, 2, monday + 2 * HOUR),  # agent 3 is taken at 11:00
    ]
    assert schedule.unplaced == (
        Unplaced(2, "agent 1 of a personal task is not among the available agents"),
    )


# Bad input


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        task(1, datetime(2026, 6, 8, 9))
    with pytest.raises(ValueError, match="capacity"):
        agent(1, capacity=0)
    with pytest.raises(ValueError, match="end before they start"):
        CallingHours(SHANGHAI, time(20), time(9))
    with pytest.raises(ValueError, match="weekdays"):
        CallingHours(SHANGHAI, weekdays=frozenset({0}))
    with pytest.raises(ValueError, match="listed twice"):
        place([task(1, utc(2026, 6, 8, 1))], [agent(1), agent(1)])
    with pytest.raises(ValueError, match="listed twice"):
        place([task(1, utc(2026, 6, 8, 1)), task(1, utc(2026, 6, 8, 2))], [agent(1)])
    assert slot_length(7) == timedelta(microseconds=514_285_715)
