"""`callcenter demo`: a living demo data set for newcomers.

Everything is written through the domain services, so audit rows and order histories are
the real ones. Data is repeatable for a seed (relative to now); passwords are not.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from sqlmodel import Session, select

from billing.enums import ApprovalMethod, FeeKind
from billing.schemas import (
    CommissionRateIn,
    FeeRateIn,
    LateDeductionIn,
    QuoteDecision,
    QuoteIn,
    RewardItemIn,
)
from billing.services import quotes, rates
from callcenter.demo import data as pools
from core.types import Clock
from orders.enums import ApplianceCategory as C
from orders.enums import Channel, OrderType, Role, ServiceMode, Urgency
from orders.enums import OrderStatus as S
from orders.exceptions import DuplicateStationCode, DuplicateUsername
from orders.models import User, WorkOrder
from orders.schemas import (
    SYSTEM,
    AddressIn,
    ApplianceCreate,
    AppointmentIn,
    CustomerCreate,
    EngineerCreate,
    InstallationRecordIn,
    MaintenanceRecordIn,
    OrderCreate,
    OrderPublic,
    PhoneIn,
    StationCreate,
    TransitionIn,
    UserCreate,
    UserUpdate,
)
from orders.services import (
    appliances,
    appointments,
    complaints,
    customers,
    service_records,
    stations,
    users,
    work_orders,
)
from orders.states import OPEN_STATES, allowed_targets
from parts.enums import WarehouseKind
from parts.schemas import PartIn, ReceiptIn, WarehouseIn
from parts.services import catalogue, warehouses

DEMO_ADMIN = "demo-admin"
RESET_COMMAND = "`callcenter demo --reset-passwords`"
CONSOLE_PATH = "/console"
DOCS_PATH = "/docs"
STAFF: tuple[tuple[str, Role], ...] = (
    (DEMO_ADMIN, Role.ADMIN),
    ("demo-supervisor", Role.SUPERVISOR),
    ("demo-agent1", Role.AGENT),
    ("demo-agent2", Role.AGENT),
)
HISTORY = timedelta(days=60)
# Every FAMILY_EVERY-th customer lives with the one before and shares the home landline.
FAMILY_EVERY = 25
CARRY_IN_CATEGORIES = frozenset({C.TV, C.MICROWAVE, C.OTHER})
CARRY_IN_ONLY = frozenset({S.READY_FOR_PICKUP, S.PICKED_UP})
AFTER_SERVICE = frozenset({S.COMPLETED, S.READY_FOR_PICKUP, S.PICKED_UP, S.CLOSED, S.REOPENED})
CATEGORY_WEIGHTS: dict[C, int] = {
    C.AIR_CONDITIONER: 4,
    C.WASHING_MACHINE: 4,
    C.REFRIGERATOR: 3,
    C.TV: 3,
    C.WATER_HEATER: 3,
    C.RANGE_HOOD: 2,
    C.GAS_STOVE: 2,
    C.MICROWAVE: 1,
    C.DISHWASHER: 1,
    C.OTHER: 1,
}
TARGET_WEIGHTS: dict[S, int] = {
    S.NEW: 3,
    S.ASSIGNED: 3,
    S.ACCEPTED: 2,
    S.CONTACTED: 2,
    S.IN_SERVICE: 3,
    S.WAITING_PARTS: 2,
    S.HARD_TO_REPAIR: 1,
    S.COMPLETED: 2,
    S.READY_FOR_PICKUP: 2,
    S.PICKED_UP: 3,
    S.CLOSED: 14,
    S.CANCELLED: 3,
    S.REOPENED: 1,
}
# Orders still being worked on are recent; finished ones may be from any time.
WINDOW: dict[S, timedelta] = {S.NEW: timedelta(days=1)} | {
    state: timedelta(days=10)
    for state in (OPEN_STATES | {S.COMPLETED, S.READY_FOR_PICKUP}) - {S.NEW}
}
TYPICAL_STEP = timedelta(hours=18)
COMPLAINT_ODDS: dict[S, float] = {
    S.REOPENED: 0.6,
    S.HARD_TO_REPAIR: 0.4,
    S.WAITING_PARTS: 0.3,
    S.CANCELLED: 0.2,
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    station: str
    password: str | None
    """None when the user existed before and keeps its password."""


@dataclass
class DemoReport:
    users: list[DemoUser] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    statuses: Counter[S] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def render(self) -> RenderableType:
        parts: list[RenderableType] = []
        if self.users:
            parts.append(self._users_table())
        if self.counts:
            parts.append(self._counts_table())
        parts.extend(Text(note, style="yellow") for note in self.notes)
        return Group(*parts)

    def _users_table(self) -> Table:
        table = Table(title=f"Demo users (sign in at {CONSOLE_PATH}, or Authorize at {DOCS_PATH})")
        for column in ("username", "role", "station"):
            table.add_column(column, no_wrap=True)
        # Folded rather than cut with an ellipsis on a narrow terminal: it must be copyable.
        table.add_column("password", overflow="fold")
        for user in self.users:
            password = user.password or f"(existed before; unchanged: {RESET_COMMAND})"
            table.add_row(user.username, user.role.value, user.station, password)
        return table

    def _counts_table(self) -> Table:
        table = Table(title="Demo data")
        table.add_column("what")
        table.add_column("count", justify="right")
        for what, count in self.counts.items():
            table.add_row(what, str(count))
        for status in S:
            table.add_row(f"orders {status.value}", str(self.statuses[status]))
        return table


class _Clock:
    """A hand-moved clock, so each row carries the time it would have had in real life."""

    def __init__(self, at: datetime, limit: datetime) -> None:
        self.at = min(at, limit)
        self.limit = limit

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at = min(self.at + delta, self.limit)


@dataclass(frozen=True)
class _Household:
    region: pools.Region
    address: AddressIn
    landline: str
    surname: str
    language: str


@dataclass(frozen=True)
class _Owned:
    id: int
    category: C


def seed_demo(
    session: Session, *, customers: int, seed: int, clock: Clock, reset_passwords: bool = False
) -> DemoReport:
    """Stations, users of every role, customers with appliances, and orders in every state.

    A second run adds nothing once the demo admin exists, so it never duplicates the set;
    with ``reset_passwords`` it gives the demo users new passwords and shows them instead.
    """
    report = DemoReport()
    if session.exec(select(User).where(User.username == DEMO_ADMIN)).first() is not None:
        report.notes.append(f"demo data already present (user {DEMO_ADMIN} exists); nothing added")
        if reset_passwords:
            _reset_passwords(session, report, clock)
        else:
            report.notes.append(
                "the demo users' passwords were shown when they were made; "
                f"{RESET_COMMAND} gives them new ones and shows them"
            )
        return report
    seeder = _Seeder(session, random.Random(seed), clock(), report)
    seeder.fee_schedule()
    seeder.stations()
    seeder.parts()
    seeder.users()
    report.notes.append(f"the passwords are shown only now; {RESET_COMMAND} sets new ones")
    for index in range(customers):
        seeder.customer(index)
    return report


def _accounts() -> list[tuple[str, Role, pools.Region | None]]:
    """Every demo user's name and role, with the region of a station's staff."""
    return [(name, role, None) for name, role in STAFF] + [
        (f"demo-{region.station_code.lower()}{suffix}", role, region)
        for region in pools.REGIONS
        for suffix, role in (("", Role.STATION), ("-engineer", Role.ENGINEER))
    ]


def _reset_passwords(session: Session, report: DemoReport, clock: Clock) -> None:
    """New passwords for the demo users there are; their tokens stop working with the old."""
    for username, _role, region in _accounts():
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None or user.id is None:
            continue
        password = secrets.token_urlsafe(12)
        users.update_user(
            session, user_id=user.id, data=UserUpdate(password=password), actor=SYSTEM, clock=clock
        )
        station = region.station_name if region else ""
        report.users.append(DemoUser(username, user.role, station, password))
    report.notes.append("new passwords set; the old ones and their sign-ins no longer work")


class _Seeder:
    def __init__(
        self, session: Session, rng: random.Random, now: datetime, report: DemoReport
    ) -> None:
        self.session = session
        self.rng = rng
        self.now = now
        self.report = report
        self.station_ids: dict[str, int] = {}
        # Drawn first, so even a small set has every state and every category, and callers
        # for both of the hotline's queues.
        self.pending_statuses = list(S)
        self.pending_categories = list(C)
        self.pending_english = True
        self.household: _Household | None = None

    def fee_schedule(self) -> None:
        """The fee schedule and the rates of commission, rewards and penalties and late
        deductions that quotes and audits read (unless a schedule is there already)."""
        if rates.rates(self.session).fees:
            return
        for kind, labour_fen, commission_fen in pools.SERVICE_RATES:
            rates.set_fee(
                self.session,
                FeeRateIn(kind=FeeKind.LABOUR, service_kind=kind, amount_fen=labour_fen),
            )
            rates.set_commission(
                self.session, CommissionRateIn(service_kind=kind, amount_fen=commission_fen)
            )
            rates.set_commission(
                self.session,
                CommissionRateIn(
                    service_kind=kind, outsourced=True, amount_fen=commission_fen * 6 // 5
                ),
            )
        for urban, amount in ((True, 3000), (False, 5000)):
            rates.set_fee(
                self.session, FeeRateIn(kind=FeeKind.TRAVEL, urban=urban, amount_fen=amount)
            )
        for code, name, amount in pools.REWARD_ITEMS:
            rates.set_reward_item(
                self.session, RewardItemIn(code=code, name=name, amount_fen=amount)
            )
        for milestone, amount, charged_to in pools.LATE_DEDUCTIONS:
            rates.set_late_deduction(
                self.session,
                LateDeductionIn(milestone=milestone, amount_fen=amount, charged_to=charged_to),
            )

    def stations(self) -> None:
        clock = _Clock(self.now - HISTORY - timedelta(days=1), self.now)
        for region in pools.REGIONS:
            data = StationCreate(code=region.station_code, name=region.station_name)
            try:
                station = stations.create_station(
                    self.session, data=data, actor=SYSTEM, clock=clock
                )
                station_id = station.id
            except DuplicateStationCode:
                station_id = users.station_id_for_code(self.session, data.code)
                self.report.notes.append(f"station {data.code} existed before; reused")
            assert station_id is not None
            self.station_ids[region.station_code] = station_id
        self.report.counts["stations"] = len(self.station_ids)

    def parts(self) -> None:
        """A catalogue, the central store and each station's parts store, stocked."""
        clock = _Clock(self.now - HISTORY - timedelta(days=1), self.now)
        made = [
            catalogue.create_part(
                self.session,
                data=PartIn(
                    code=code,
                    name=name,
                    models=[],
                    station_price_fen=station,
                    public_price_fen=public,
                ),
                actor=SYSTEM,
                clock=clock,
            )
            for code, name, station, public in pools.PARTS
        ]
        stores: list[tuple[str, str, WarehouseKind, int | None, int]] = [
            ("CENTRAL", "总部配件库", WarehouseKind.CENTRAL, None, 200)
        ]
        stores.append(("DAMAGED", "总部报损库", WarehouseKind.DAMAGED, None, 0))
        for region in pools.REGIONS:
            station_id = self.station_ids[region.station_code]
            stores.append(
                (
                    f"{region.station_code}-P",
                    f"{region.station_name}配件库",
                    WarehouseKind.STATION,
                    station_id,
                    12,
                )
            )
        for code, name, kind, owner, quantity in stores:
            store = warehouses.create_warehouse(
                self.session,
                data=WarehouseIn(code=code, name=name, kind=kind, station_id=owner),
                actor=SYSTEM,
                clock=clock,
            )
            for part in made if quantity else []:
                warehouses.receive(
                    self.session,
                    warehouse_id=store.id,
                    data=ReceiptIn(part_id=part.id, quantity=quantity),
                    actor=SYSTEM,
                    clock=clock,
                )
        self.report.counts["parts"] = len(made)

    def users(self) -> None:
        clock = _Clock(self.now - HISTORY - timedelta(days=1), self.now)
        for username, role, region in _accounts():
            # Real secrets, unlike the data: a demo install is still reachable on the network.
            password = secrets.token_urlsafe(12)
            data = UserCreate(
                username=username,
                full_name=pools.person_name(self.rng),
                role=role,
                station_id=self.station_ids[region.station_code] if region else None,
                password=password,
            )
            shown: str | None = password
            try:
                user = users.create_user(self.session, data=data, actor=SYSTEM, clock=clock)
            except DuplicateUsername:
                shown = None
            else:
                if role is Role.ENGINEER and region is not None:
                    self._engineer(user, region, clock)
            station = region.station_name if region else ""
            self.report.users.append(DemoUser(username, role, station, shown))

    def _engineer(self, user: User, region: pools.Region, clock: _Clock) -> None:
        """The engineer behind a demo engineer's login: every skill, certified for a year."""
        stations.create_engineer(
            self.session,
            data=EngineerCreate(
                station_id=self.station_ids[region.station_code],
                user_id=user.id,
                name=user.full_name,
                categories=list(C),
                service_types=list(OrderType),
                certificate_no=f"SH-{region.station_code}-{user.id:04d}",
                certificate_expires=(self.now + timedelta(days=365)).date(),
            ),
            actor=SYSTEM,
            clock=clock,
        )

    def customer(self, index: int) -> None:
        rng = self.rng
        family = self.household if index % FAMILY_EVERY == FAMILY_EVERY - 1 else None
        household = family or self._new_household()
        phones = [PhoneIn(number=pools.mobile(rng), label="mobile")]
        if rng.random() < 0.15:
            phones.append(PhoneIn(number=pools.mobile(rng), label="mobile"))
        if family or index % FAMILY_EVERY == FAMILY_EVERY - 2 or rng.random() < 0.25:
            phones.append(PhoneIn(number=household.landline, label="home"))
        # Some family members (a spouse, say) have a surname of their own.
        surname = None if family and rng.random() < 0.4 else household.surname
        if household.language == "en":
            name, title = pools.english_name(rng, surname)
        else:
            name, title = pools.person_name(rng, surname), ""
        data = CustomerCreate(
            name=name,
            title=title,
            preferred_language=household.language,
            notes=rng.choice(pools.CUSTOMER_NOTES) if rng.random() < 0.1 else "",
            phones=phones,
            addresses=[household.address],
        )
        clock = _Clock(self.now - HISTORY * rng.random(), self.now)
        created = customers.create_customer(self.session, data=data, actor=SYSTEM, clock=clock)
        self.household = household
        self.report.counts["customers"] += 1
        self.report.counts["home numbers shared by two customers"] += bool(family)
        owned = [
            self._appliance(created.id, clock) for _ in range(rng.choices((1, 2, 3), (5, 3, 1))[0])
        ]
        order_count = rng.choices((0, 1, 2, 3), (3, 5, 2, 1))[0]
        if self.pending_statuses:
            order_count = max(order_count, 1)
        for _ in range(order_count):
            self._order(created.id, created.addresses[0].id, household.region, owned, clock)

    def _new_household(self) -> _Household:
        rng = self.rng
        region = rng.choice(pools.REGIONS)
        district = rng.choice(sorted(region.streets))
        address = AddressIn(
            province=region.province,
            city=region.city,
            district=district,
            street=pools.street_address(rng, rng.choice(region.streets[district])),
        )
        if self.pending_english or rng.random() < pools.ENGLISH_SHARE:
            self.pending_english = False
            surname, language = rng.choice(pools.ENGLISH_SURNAMES), "en"
        else:
            surname, language = pools.surname(rng), "zh-CN"
        return _Household(region, address, pools.landline(rng, region), surname, language)

    def _appliance(self, customer_id: int, clock: _Clock) -> _Owned:
        rng = self.rng
        if self.pending_categories:
            category = self.pending_categories.pop(0)
        else:
            category = rng.choices(list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values()))[0]
        clock.advance(timedelta(minutes=rng.uniform(1, 5)))
        data = ApplianceCreate(
            customer_id=customer_id,
            category=category,
            brand=rng.choice(pools.BRANDS[category]),
            model=pools.model_number(rng, category),
            serial=f"{rng.choice('ABCDEFGH')}{rng.randrange(10**11):011d}",
            **pools.purchase_fields(rng, category, clock().date()),
        )
        created = appliances.create_appliance(self.session, data=data, actor=SYSTEM, clock=clock)
        self.report.counts["appliances"] += 1
        return _Owned(created.id, category)

    def _plan(self, owned: list[_Owned]) -> tuple[_Owned, ServiceMode, S]:
        rng = self.rng
        carriable = [a for a in owned if a.category in CARRY_IN_CATEGORIES]
        wanted = [s for s in self.pending_statuses if s in CARRY_IN_ONLY]
        if carriable and wanted:
            appliance, mode = rng.choice(carriable), ServiceMode.CARRY_IN
        else:
            appliance = rng.choice(owned)
            carry_in = appliance.category in CARRY_IN_CATEGORIES and rng.random() < 0.5
            mode = ServiceMode.CARRY_IN if carry_in else ServiceMode.ON_SITE
        fits = [s for s in TARGET_WEIGHTS if mode is ServiceMode.CARRY_IN or s not in CARRY_IN_ONLY]
        pending = [s for s in self.pending_statuses if s in fits]
        weights = [TARGET_WEIGHTS[s] for s in fits]
        target = pending[0] if pending else rng.choices(fits, weights)[0]
        if target in self.pending_statuses:
            self.pending_statuses.remove(target)
        return appliance, mode, target

    def _order(
        self,
        customer_id: int,
        address_id: int,
        region: pools.Region,
        owned: list[_Owned],
        registered: _Clock,
    ) -> None:
        rng = self.rng
        appliance, mode, target = self._plan(owned)
        earliest = max(registered(), self.now - WINDOW.get(target, HISTORY))
        clock = _Clock(earliest + (self.now - earliest) * rng.random(), self.now)
        order_type = OrderType.REPAIR
        if mode is ServiceMode.ON_SITE:
            order_type = rng.choices(list(OrderType), (80, 8, 12))[0]
        data = OrderCreate(
            customer_id=customer_id,
            appliance_id=appliance.id,
            address_id=address_id if mode is ServiceMode.ON_SITE else None,
            order_type=order_type,
            service_mode=mode,
            urgency=Urgency.URGENT if rng.random() < 0.15 else Urgency.NORMAL,
            channel=rng.choices((Channel.PHONE, Channel.IVR, Channel.WEB), (6, 3, 1))[0],
            fault_description=pools.order_description(rng, appliance.category, order_type),
        )
        order = work_orders.create_order(self.session, data=data, actor=SYSTEM, clock=clock)
        self._walk(order, _route(rng, mode, target), region, clock)
        self.report.counts["orders"] += 1
        self.report.statuses[target] += 1
        if rng.random() < COMPLAINT_ODDS.get(target, 0.03):
            self._complaint(customer_id, order.id, target, clock)

    def _walk(
        self, order: OrderPublic, route: list[S], region: pools.Region, clock: _Clock
    ) -> None:
        if not route:
            return
        step_budget = min(self.now - clock(), TYPICAL_STEP * len(route)) / len(route)
        here = S.NEW
        for step in route:
            clock.advance(step_budget * self.rng.uniform(0.3, 1.0))
            self._paperwork(order, here, step, clock)
            assigning = step is S.ASSIGNED
            data = TransitionIn(
                to=step,
                note=pools.TRANSITION_NOTES[step.value].format(station=region.station_name),
                station_id=self.station_ids[region.station_code] if assigning else None,
            )
            work_orders.transition_order(
                self.session, order_id=order.id, data=data, actor=SYSTEM, clock=clock
            )
            here = step

    def _paperwork(self, order: OrderPublic, here: S, step: S, clock: _Clock) -> None:
        """What a station files before the step, as the rules ask: the visit is booked
        before the engineer goes on site, and an installation or maintenance visit's
        record before it completes."""
        if step is S.IN_SERVICE and needs_quote_now(self.session, order.id):
            # Out of warranty: the customer hears the price and agrees before the work.
            kind = pools.SERVICE_KIND_OF[order.order_type]
            quote = quotes.create_quote(
                self.session,
                order_id=order.id,
                data=QuoteIn(service_kind=kind),
                actor=SYSTEM,
                clock=clock,
            )
            quotes.decide_quote(
                self.session,
                quote_id=quote.id,
                data=QuoteDecision(
                    approve=True, method=ApprovalMethod.PHONE, customer_name="客户本人"
                ),
                actor=SYSTEM,
                clock=clock,
            )
        if step is S.IN_SERVICE and here is S.CONTACTED:
            start = clock() + timedelta(minutes=5)
            appointments.schedule(
                self.session,
                order_id=order.id,
                data=AppointmentIn(window_start=start, window_end=start + timedelta(hours=2)),
                actor=SYSTEM,
                clock=clock,
            )
        if step is not S.COMPLETED or here is not S.IN_SERVICE:
            return
        if order.order_type is OrderType.INSTALLATION:
            service_records.file_installation(
                self.session,
                order_id=order.id,
                data=InstallationRecordIn(
                    unboxing_ok=True,
                    commissioned=True,
                    training_given=True,
                    customer_confirmed_by="客户本人",
                ),
                actor=SYSTEM,
                clock=clock,
            )
        elif order.order_type is OrderType.MAINTENANCE:
            service_records.file_maintenance(
                self.session,
                order_id=order.id,
                data=MaintenanceRecordIn(
                    work_done="清洗保养，检查运行正常",
                    customer_confirmed_by="客户本人",
                ),
                actor=SYSTEM,
                clock=clock,
            )

    def _complaint(self, customer_id: int, order_id: int, status: S, clock: _Clock) -> None:
        topics = dict(pools.COMPLAINT_TOPICS)
        topic = "配件等待过久" if status is S.WAITING_PARTS else self.rng.choice(sorted(topics))
        clock.advance(timedelta(hours=self.rng.uniform(1, 24)))
        complaints.log_complaint(
            self.session,
            customer_id=customer_id,
            order_id=order_id,
            topic=topic,
            description=topics[topic],
            crisis_level=self.rng.choice((0, 0, 1, 2)),
            actor=SYSTEM,
            clock=clock,
        )
        self.report.counts["complaints"] += 1


def _route(rng: random.Random, mode: ServiceMode, target: S) -> list[S]:
    """Legal steps from NEW to ``target``, with the detours real orders take."""
    # Customers call back about a failure that came back after the order was closed.
    stops: list[S] = [S.CLOSED, S.REOPENED] if target is S.REOPENED else [target]
    if target in AFTER_SERVICE and rng.random() < 0.25:
        stops.insert(0, rng.choice((S.WAITING_PARTS, S.HARD_TO_REPAIR)))
    if target is S.CANCELLED:
        stops.insert(0, rng.choice(sorted(OPEN_STATES - {S.REOPENED})))
    route: list[S] = []
    here = S.NEW
    for stop in stops:
        route += _shortest(here, stop, mode)
        here = stop
    return route


def _shortest(start: S, goal: S, mode: ServiceMode) -> list[S]:
    parents: dict[S, S] = {start: start}
    queue = deque([start])
    while queue and goal not in parents:
        here = queue.popleft()
        for step in allowed_targets(here, mode):
            if step not in parents:
                parents[step] = here
                queue.append(step)
    route: list[S] = []
    while goal != start:
        route.append(goal)
        goal = parents[goal]
    return route[::-1]


def needs_quote_now(session: Session, order_id: int) -> bool:
    order = session.get(WorkOrder, order_id)
    assert order is not None
    return quotes.needs_quote(order) and quotes.approved_quote(session, order_id) is None
