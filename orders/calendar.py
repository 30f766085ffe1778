"""Business calendars: when a station works, to add and count working time.

A station works its weekly hours (in its own time zone) on China's working days: public
holidays close it whatever the weekday (国庆, 春节 ...), and a make-up working day (调休, a
Saturday or Sunday worked in exchange for a holiday) opens it with Monday's hours, the day
such a weekend day stands in for. Its own closures close it too. The holiday data comes
from ``chinese_calendar``; for a year the library does not know yet, Monday to Friday are
working days and a warning is logged once, so an SLA clock never stops for want of data.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar
import structlog

log = structlog.get_logger(__name__)

MAX_SEARCH_DAYS = 3 * 366
"""How far a calculation looks for working time before it gives up (a station with no
hours at all)."""
MAKE_UP_DAY_HOURS_OF = 1
"""A make-up working day works the hours of this ISO weekday (Monday)."""

Intervals = tuple[tuple[time, time], ...]

HOTLINE_ZONE = ZoneInfo("Asia/Shanghai")
"""The hotline's calendar (China's): report periods, and the day of anything without a
station of its own."""


@cache
def _warn_unknown_year(year: int) -> None:
    log.warning("holiday_data_missing", year=year, assumed="Monday to Friday")


def is_working_day(day: date) -> bool:
    """China's official answer: a weekday not a holiday, or a make-up working day."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        _warn_unknown_year(day.year)
        return day.isoweekday() <= 5


def parse_hours(hours: dict[str, list[list[str]]]) -> dict[int, Intervals]:
    """``{"1": [["08:30", "12:00"], ...]}`` as sorted intervals per ISO weekday."""
    parsed: dict[int, Intervals] = {}
    for weekday, spans in hours.items():
        intervals = sorted((time.fromisoformat(a), time.fromisoformat(b)) for a, b in spans)
        parsed[int(weekday)] = tuple(intervals)
    return parsed


@dataclass(frozen=True)
class BusinessCalendar:
    zone: ZoneInfo
    hours: dict[int, Intervals]
    closures: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        *,
        time_zone: str,
        working_hours: dict[str, list[list[str]]],
        closures: Collection[date],
    ) -> BusinessCalendar:
        return cls(ZoneInfo(time_zone), parse_hours(working_hours), frozenset(closures))

    def intervals_on(self, day: date) -> Intervals:
        if day in self.closures or not is_working_day(day):
            return ()
        weekday = day.isoweekday()
        if weekday >= 6:  # a weekend day that is a working day: a make-up day
            weekday = MAKE_UP_DAY_HOURS_OF
        return self.hours.get(weekday, ())

    def _spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working spans (UTC) from ``start`` on, the first one clipped to begin at it."""
        local_day = start.astimezone(self.zone).date()
        for offset in range(MAX_SEARCH_DAYS):
            day = local_day + timedelta(days=offset)
            for begin, end in self.intervals_on(day):
                low = datetime.combine(day, begin, self.zone).astimezone(UTC)
                high = datetime.combine(day, end, self.zone).astimezone(UTC)
                if high <= start:
                    continue
                yield max(low, start), high

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of working time after ``start``."""
        left = seconds
        if left <= 0:
            return start
        for low, high in self._spans(start):
            span = (high - low).total_seconds()
            if left <= span:
                return low + timedelta(seconds=left)
            left -= span
        raise ValueError(f"no working time within {MAX_SEARCH_DAYS} days of {start.isoformat()}")

    def between(self, start: datetime, end: datetime) -> float:
        """Seconds of working time in [start, end)."""
        if end <= start:
            return 0.0
        total = 0.0
        for low, high in self._spans(start):
            if low >= end:
                break
            total += (min(high, end) - low).total_seconds()
        return total

    def is_open_on(self, day: date) -> bool:
        return bool(self.intervals_on(day))

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (``day`` itself not counted)."""
        found = 0
        for offset in range(1, MAX_SEARCH_DAYS):
            candidate = day + timedelta(days=offset)
            if self.is_open_on(candidate):
                found += 1
                if found == count:
                    return candidate
        raise ValueError(f"no {count} working days within {MAX_SEARCH_DAYS} days of {day}")

    def working_days_between(self, first: date, last: date) -> int:
        """Working days after ``first`` up to and including ``last``."""
        return sum(
            1
            for offset in range(1, (last - first).days + 1)
            if self.is_open_on(first + timedelta(days=offset))
        )

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


def month_range(month: str) -> tuple[datetime, datetime]:
    """A calendar month ``YYYY-MM`` of the hotline's calendar, as [start, end) in UTC."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=HOTLINE_ZONE)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=HOTLINE_ZONE)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_starts(start: datetime, end: datetime) -> list[datetime]:
    """``start``, then each start of a hotline calendar month after it and before ``end``."""
    edges = [start]
    local = start.astimezone(HOTLINE_ZONE)
    year, number = local.year, local.month
    while True:
        year, number = year + number // 12, number % 12 + 1
        edge = datetime(year, number, 1, tzinfo=HOTLINE_ZONE).astimezone(UTC)
        if edge >= end:
            return edges
        edges.append(edge)
