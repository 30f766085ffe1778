"""The IVR engine: a pure state machine over a flow's nodes and the caller's input.

The engine decides what the caller hears next (a Turn of channel-neutral actions) and
what happens (through a Backend: orders, order status, callbacks). Channels render the
turns: TwiML on Twilio, audio on SIP. The same flow and input give the same outcome on
every channel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from ivr import flow as f
from ivr.names import (
    HOTLINE_ZONE,
    category_name,
    category_word,
    status_name,
    surname_of,
    time_name,
)
from ivr.turns import Action, Ask, CallerInput, Enqueue, Hangup, Say, Turn
from orders import CallerLookup

MAX_STEPS = 64
"""Passive nodes run back to back; validation rules out loops, this bounds a bad edit."""


class Backend(Protocol):
    def now(self) -> datetime: ...

    def create_repair(self, *, customer_id: int, appliance_id: int, description: str) -> str:
        """Log the repair as a work order; returns its number."""
        ...

    def order_status(
        self, *, customer_id: int | None, number: str | None
    ) -> tuple[str, str] | None:
        """(number, status) of the given order, or of the caller's latest open one."""
        ...

    def book_callback(self, *, call_id: str, customer_id: int | None, band: str) -> None: ...

    def callback_slots(self, *, customer_id: int | None, count: int) -> list[datetime]:
        """Free times an agent could call back, earliest first (none without calendars)."""
        ...

    def book_callback_at(self, *, call_id: str, customer_id: int | None, at: datetime) -> None:
        """Book the callback at a time ``callback_slots`` offered."""
        ...

    def record_survey(self, *, call_id: str, answers: dict[str, str]) -> None:
        """A survey call's answers, by the names its questions keep them under."""
        ...


class IvrSession(BaseModel):
    call_id: str
    flow: str
    language: str
    node: str
    stage: str = ""
    retries: int = 0
    slots: dict[str, str] = {}
    customer_id: int | None = None
    surname: str = ""
    title: str = ""
    appliances: list[tuple[int, str, str]] = []
    """(id, name as said, category) of the caller's appliances."""
    candidates: list[int] = []
    """Indexes into ``appliances`` the caller is choosing from."""
    chosen_appliance_id: int | None = None
    order_number: str | None = None
    queue: str | None = None
    overflow: str | None = None
    """The node for a caller the queue could not serve in time."""
    finished: bool = False
    offers: list[datetime] = []
    """The callback times offered to the caller, in the order read out."""
    keys_only: bool = False
    """Set after speech too unsure to act on: menus then take keys only."""


def _ascii_digits(text: str) -> bool:
    # str.isdigit also takes "²" and other Unicode digits, which int() then refuses.
    return text.isascii() and text.isdigit()


def _first_key(given: CallerInput) -> int:
    """The first key pressed as a number, or -1 when it is no digit."""
    key = given.digits[:1]
    return int(key) if _ascii_digits(key) else -1


def _kinds(session: IvrSession) -> list[str]:
    """The categories of the caller's appliances, each once, in the record's order."""
    return list(dict.fromkeys(category for _id, _name, category in session.appliances))


class Engine:
    def __init__(self, flow: f.Flow, backend: Backend) -> None:
        self.flow = flow
        self.backend = backend

    def start(self, *, call_id: str, pop: CallerLookup) -> tuple[IvrSession, Turn]:
        session = IvrSession(
            call_id=call_id,
            flow=self.flow.name,
            language=self.flow.languages[0],
            node=self.flow.start,
        )
        if len(pop.customers) == 1:
            card = pop.customers[0]
            language = card.preferred_language
            session = session.model_copy(
                update={
                    "customer_id": card.id,
                    # Without a title on file, "王建国您好" beats a bare "王您好".
                    "surname": surname_of(card.name) if card.title else card.name,
                    "title": card.title,
                    "language": language if language in self.flow.languages else session.language,
                    "appliances": [
                        (a.id, category_name(language, a.brand, a.category.value), a.category.value)
                        for a in card.appliances[:9]
                    ],
                }
            )
        return self._run(session, self.flow.start, [])

    def overflow(self, session: IvrSession) -> tuple[IvrSession, Turn] | None:
        """The caller waited past the queue's maximum: continue at the queue node's
        ``overflow`` node, or None when the flow names none."""
        if session.overflow is None:
            return None
        resumed = session.model_copy(update={"finished": False, "queue": None, "overflow": None})
        return self._run(resumed, session.overflow, [])

    def handle(self, session: IvrSession, given: CallerInput) -> tuple[IvrSession, Turn]:
        if session.finished:
            # Input once the IVR is done is the request that finished it, sent again (its
            # answer was lost, or it failed after the state was kept): the same ending.
            ending = Hangup() if session.queue is None else Enqueue(queue=session.queue)
            return session, Turn(language=session.language, actions=[ending])
        node = self.flow.nodes[session.node]
        if isinstance(node, f.Menu):
            return self._menu(session, node, given)
        if isinstance(node, f.CollectDigits):
            return self._collect(session, node, given)
        if isinstance(node, f.RepairRequest):
            return self._repair_input(session, node, given)
        if isinstance(node, f.BookCallback):
            return self._callback(session, node, given)
        raise AssertionError(f"node {session.node} does not wait for input")

    # Running passive nodes until one waits for the caller

    def _run(self, session: IvrSession, name: str, said: list[Action]) -> tuple[IvrSession, Turn]:
        actions = list(said)
        for _ in range(MAX_STEPS):
            session = session.model_copy(update={"node": name, "stage": "", "retries": 0})
            node = self.flow.nodes[name]
            step = self._passive(session, node, actions)
            if step is None:
                return self._wait(session, node, actions)
            session, following = step
            if following is None:
                return session, Turn(language=session.language, actions=actions)
            name = following
        raise AssertionError(f"flow {self.flow.name} ran {MAX_STEPS} nodes without input")

    def _passive(
        self, session: IvrSession, node: object, actions: list[Action]
    ) -> tuple[IvrSession, str | None] | None:
        """Run a node that does not wait: (session, next node or None when finished)."""
        if isinstance(node, f.Say):
            self._say(session, node.prompt, actions, surname=session.surname, title=session.title)
            return session, node.next
        if isinstance(node, f.CallerLookup):
            if session.customer_id is None:
                return session, node.unknown
            self._say(session, node.greeting, actions, surname=session.surname, title=session.title)
            return session, node.known
        if isinstance(node, f.BusinessHours):
            return session, node.during if self._open(node) else node.after
        if isinstance(node, f.OrderStatus):
            self._order_status(session, node, actions)
            return session, node.next
        if isinstance(node, f.Queue):
            self._say(session, node.prompt, actions)
            queue = node.queue.format(language=session.language)
            actions.append(Enqueue(queue=queue))
            update = {"queue": queue, "overflow": node.overflow, "finished": True}
            return session.model_copy(update=update), None
        if isinstance(node, f.SurveyResult):
            self.backend.record_survey(call_id=session.call_id, answers=dict(session.slots))
            return session, node.next
        if isinstance(node, f.Hangup):
            if node.prompt:
                self._say(session, node.prompt, actions)
            actions.append(Hangup())
            return session.model_copy(update={"finished": True}), None
        return None

    def _wait(
        self, session: IvrSession, node: object, said: list[Action]
    ) -> tuple[IvrSession, Turn]:
        if isinstance(node, f.RepairRequest):
            return self._repair_enter(session, node, said)
        if isinstance(node, f.BookCallback) and node.slot_prompt:
            offers = self.backend.callback_slots(
                customer_id=session.customer_id, count=node.offer_slots
            )
            if offers:
                session = session.model_copy(update={"stage": "slots", "offers": offers})
        return session, Turn(language=session.language, actions=[*said, self._ask(session, node)])

    # Input nodes

    def _menu(
        self, session: IvrSession, node: f.Menu, given: CallerInput
    ) -> tuple[IvrSession, Turn]:
        option = node.options.get(given.digits[:1])
        if option is None and given.speech and not self._trusted(given):
            session = session.model_copy(update={"keys_only": True})
            return self._retry(session, node, CallerInput(digits="?"))
        if option is None and given.speech:
            # The longest phrase heard wins: 不正常 holds 正常, 不满意 holds 满意.
            spoken = given.speech.strip().lower()
            heard = [
                (len(p), o)
                for o in node.options.values()
                for p in o.phrases.get(session.language, [])
                if p.lower() in spoken
            ]
            option = max(heard, key=lambda match: match[0])[1] if heard else None
        if option is None:
            return self._retry(session, node, given)
        if node.slot is not None:
            key = next(k for k, o in node.options.items() if o is option)
            session = session.model_copy(update={"slots": {**session.slots, node.slot: key}})
        return self._run(session, option.next, [])

    def _collect(
        self, session: IvrSession, node: f.CollectDigits, given: CallerInput
    ) -> tuple[IvrSession, Turn]:
        digits = given.digits.rstrip(node.terminator)
        valid = digits == "" or _ascii_digits(digits)
        if not valid or not node.min_length <= len(digits) <= node.max_length:
            return self._retry(session, node, given)
        filled = session.model_copy(update={"slots": {**session.slots, node.slot: digits}})
        return self._run(filled, node.next, [])

    def _callback(
        self, session: IvrSession, node: f.BookCallback, given: CallerInput
    ) -> tuple[IvrSession, Turn]:
        if session.stage == "slots":
            index = _first_key(given) - 1
            if not 0 <= index < len(session.offers):
                return self._retry(session, node, given)
            at = session.offers[index]
            self.backend.book_callback_at(
                call_id=session.call_id, customer_id=session.customer_id, at=at
            )
            band = time_name(
                session.language, at, self.backend.now().astimezone(HOTLINE_ZONE).date()
            )
        else:
            chosen = node.bands.get(given.digits[:1])
            if chosen is None:
                return self._retry(session, node, given)
            band = chosen
            self.backend.book_callback(
                call_id=session.call_id, customer_id=session.customer_id, band=band
            )
        said: list[Action] = []
        self._say(session, node.done, said, band=band)
        return self._run(session, node.next, said)

    def _repair_enter(
        self, session: IvrSession, node: f.RepairRequest, said: list[Action]
    ) -> tuple[IvrSession, Turn]:
        if session.customer_id is None or not session.appliances:
            return self._run(session, node.no_appliance, said)
        if node.category and len(_kinds(session)) > 1:
            asking = session.model_copy(update={"stage": "category"})
            return asking, Turn(language=asking.language, actions=[*said, self._ask(asking, node)])
        return self._narrow(session, node, list(range(len(session.appliances))), said)

    def _narrow(
        self, session: IvrSession, node: f.RepairRequest, candidates: list[int], said: list[Action]
    ) -> tuple[IvrSession, Turn]:
        """One appliance left: on to the fault; several: the caller picks one."""
        if len(candidates) == 1:
            update = {
                "chosen_appliance_id": session.appliances[candidates[0]][0],
                "stage": "describe",
                "retries": 0,
            }
        else:
            update = {"candidates": candidates, "stage": "choose", "retries": 0}
        narrowed = session.model_copy(update=update)
        return narrowed, Turn(
            language=narrowed.language, actions=[*said, self._ask(narrowed, node)]
        )

    def _repair_input(
        self, session: IvrSession, node: f.RepairRequest, given: CallerInput
    ) -> tuple[IvrSession, Turn]:
        if session.stage == "category":
            kinds = _kinds(session)
            kind = self._pick(session, given, [category_word(session.language, k) for k in kinds])
            if kind is None:
                unsure = given.speech and not self._trusted(given)
                if unsure:
                    session = session.model_copy(update={"keys_only": True})
                return self._retry(session, node, CallerInput(digits="?") if unsure else given)
            candidates = [i for i, a in enumerate(session.appliances) if a[2] == kinds[kind]]
            return self._narrow(session, node, candidates, [])
        if session.stage == "choose":
            index = _first_key(given) - 1
            if not 0 <= index < len(session.candidates):
                return self._retry(session, node, given)
            return self._narrow(session, node, [session.candidates[index]], [])
        description = given.speech.strip()
        if not description:
            return self._retry(session, node, given)
        assert session.customer_id is not None and session.chosen_appliance_id is not None
        number = self.backend.create_repair(
            customer_id=session.customer_id,
            appliance_id=session.chosen_appliance_id,
            description=description,
        )
        done = session.model_copy(update={"order_number": number})
        said: list[Action] = []
        self._say(done, node.done, said, number=number)
        return self._run(done, node.next, said)

    def _pick(self, session: IvrSession, given: CallerInput, names: list[str]) -> int | None:
        """Index of the option chosen by key (1 = first) or, trusted, by its name."""
        key = _first_key(given)
        if 1 <= key <= len(names):
            return key - 1
        if given.speech and self._trusted(given):
            spoken = given.speech.strip().lower()
            return next((i for i, name in enumerate(names) if name.lower() in spoken), None)
        return None

    def _trusted(self, given: CallerInput) -> bool:
        confidence = given.speech_confidence
        return confidence is None or confidence >= self.flow.speech_threshold

    def _retry(
        self,
        session: IvrSession,
        node: f.Menu | f.CollectDigits | f.RepairRequest | f.BookCallback,
        given: CallerInput,
    ) -> tuple[IvrSession, Turn]:
        retries = session.retries + 1
        if retries >= self.flow.retries_of(node):
            assert node.on_failure is not None, "validated: every waiting node has a way out"
            return self._run(session, node.on_failure, [])
        again = session.model_copy(update={"retries": retries})
        said: list[Action] = []
        self._say(again, "no_input" if given.empty else "invalid", said)
        return again, Turn(language=again.language, actions=[*said, self._ask(again, node)])

    # Prompts

    def _ask(self, session: IvrSession, node: object) -> Ask:
        language = session.language
        if isinstance(node, f.Menu):
            hints = [p for o in node.options.values() for p in o.phrases.get(language, [])]
            return Ask(
                prompts=[self._text(session, node.prompt)],
                accept="dtmf" if session.keys_only else "dtmf speech",
                num_digits=1,
                hints=[] if session.keys_only else hints,
            )
        if isinstance(node, f.CollectDigits):
            return Ask(
                prompts=[self._text(session, node.prompt)],
                finish_on_key=node.terminator,
                timeout_seconds=node.timeout_seconds,
            )
        if isinstance(node, f.RepairRequest) and session.stage == "category":
            assert node.category is not None
            names = [category_word(language, kind) for kind in _kinds(session)]
            options = [
                self._text(session, node.option, name=name, digit=str(index + 1))
                for index, name in enumerate(names)
            ]
            return Ask(
                prompts=[self._text(session, node.category), *options],
                accept="dtmf" if session.keys_only else "dtmf speech",
                num_digits=1,
                hints=[] if session.keys_only else names,
            )
        if isinstance(node, f.RepairRequest) and session.stage == "choose":
            options = [
                self._text(session, node.option, name=session.appliances[i][1], digit=str(n + 1))
                for n, i in enumerate(session.candidates)
            ]
            return Ask(prompts=[self._text(session, node.choose), *options], num_digits=1)
        if isinstance(node, f.RepairRequest):
            return Ask(
                prompts=[self._text(session, node.describe)],
                accept="speech",
                finish_on_key="#",
                timeout_seconds=8,
            )
        assert isinstance(node, f.BookCallback)
        if session.stage == "slots":
            assert node.slot_prompt is not None and node.slot_option is not None
            today = self.backend.now().astimezone(HOTLINE_ZONE).date()
            options = [
                self._text(
                    session,
                    node.slot_option,
                    time=time_name(language, at, today),
                    digit=str(index + 1),
                )
                for index, at in enumerate(session.offers)
            ]
            return Ask(prompts=[self._text(session, node.slot_prompt), *options], num_digits=1)
        return Ask(prompts=[self._text(session, node.prompt)], num_digits=1)

    def _say(self, session: IvrSession, prompt: str, actions: list[Action], **values: str) -> None:
        text = self._text(session, prompt, **values)
        if text.strip():
            actions.append(Say(text=text))

    def _text(self, session: IvrSession, prompt: str, **values: str) -> str:
        template = self.flow.prompts[session.language][prompt]
        return " ".join(template.format(**values).split()) if values else template

    def _order_status(
        self, session: IvrSession, node: f.OrderStatus, actions: list[Action]
    ) -> None:
        number = session.slots.get(node.slot) if node.slot else None
        found = self.backend.order_status(customer_id=session.customer_id, number=number or None)
        if found is None:
            self._say(session, node.none, actions)
            return
        self._say(
            session,
            node.found,
            actions,
            number=found[0],
            status=status_name(session.language, found[1]),
        )

    def _open(self, node: f.BusinessHours) -> bool:
        local = self.backend.now().astimezone(ZoneInfo(node.timezone))
        return local.weekday() in node.days and node.open <= f"{local:%H:%M}" < node.close
