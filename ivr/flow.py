"""IVR flows as data: YAML files loaded, typed and checked before any caller meets them.

Every problem is reported as a FlowError naming the file and the node: unknown node
references, unreachable nodes, missing prompts, menus without a way out, and loops that
no retry limit ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.exceptions import FlowError

BUILTIN_FLOWS = Path(__file__).parent / "flows"

Digit = Annotated[str, Field(pattern=r"^[0-9*#]$")]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Say(_Node):
    kind: Literal["say"]
    prompt: str
    next: str


class Option(_Node):
    next: str
    phrases: dict[str, list[str]] = {}
    """Spoken alternatives to the key, per language."""


class Menu(_Node):
    kind: Literal["menu"]
    prompt: str
    options: dict[Digit, Option]
    slot: str | None = None
    """Keep the chosen key under this name: a survey's answer (a score by key or by word)."""
    retries: int | None = Field(default=None, ge=1, le=10)
    on_failure: str | None = None


class CollectDigits(_Node):
    kind: Literal["collect_digits"]
    prompt: str
    slot: str
    min_length: int = Field(default=1, ge=0)
    max_length: int = Field(default=20, le=32)
    terminator: Literal["#", "*"] = "#"
    timeout_seconds: int = Field(default=6, ge=1, le=60)
    next: str
    retries: int | None = Field(default=None, ge=1, le=10)
    on_failure: str | None = None


class CallerLookup(_Node):
    kind: Literal["caller_lookup"]
    known: str
    unknown: str
    greeting: str
    """Prompt for a returning caller; ``{surname}`` and ``{title}`` are filled in."""


class OrderStatus(_Node):
    kind: Literal["order_status"]
    slot: str | None = None
    """Read the order whose number was collected into this slot, else the caller's latest."""
    found: str
    none: str
    next: str


class RepairRequest(_Node):
    kind: Literal["repair_request"]
    category: str | None = None
    """Prompt asking which kind of appliance (by key or by name) when the caller's
    appliances are of several kinds; without it the caller picks from all of them."""
    choose: str
    option: str
    describe: str
    done: str
    next: str
    no_appliance: str
    retries: int | None = Field(default=None, ge=1, le=10)
    on_failure: str | None = None


class BookCallback(_Node):
    kind: Literal["book_callback"]
    slot_prompt: str | None = None
    """With it, the caller is offered free times from the agents' calendars (each read
    out with ``slot_option``); the bands are offered only when no time is free."""
    slot_option: str | None = None
    offer_slots: int = Field(default=3, ge=1, le=9)
    prompt: str
    bands: dict[Digit, str]
    """Key → time band, e.g. "1": "09:00-12:00"."""
    done: str
    next: str
    retries: int | None = Field(default=None, ge=1, le=10)
    on_failure: str | None = None


class BusinessHours(_Node):
    kind: Literal["business_hours"]
    timezone: str = "Asia/Shanghai"
    days: list[int] = [0, 1, 2, 3, 4, 5, 6]
    """Weekdays open, Monday = 0."""
    open: str = Field(pattern=r"^\d\d:\d\d$")
    close: str = Field(pattern=r"^\d\d:\d\d$")
    during: str
    after: str


class Queue(_Node):
    kind: Literal["queue"]
    prompt: str
    queue: str
    """Queue name; ``{language}`` is filled in."""
    overflow: str | None = None
    """Where a caller goes who waited past the queue's maximum wait (e.g. a callback
    booking); without it they are offered voicemail."""


class SurveyResult(_Node):
    """The survey's answers (the slots its questions filled) go to the backend."""

    kind: Literal["survey_result"]
    next: str


class Hangup(_Node):
    kind: Literal["hangup"]
    prompt: str | None = None


Node = Annotated[
    Say
    | Menu
    | CollectDigits
    | CallerLookup
    | OrderStatus
    | RepairRequest
    | BookCallback
    | BusinessHours
    | Queue
    | SurveyResult
    | Hangup,
    Field(discriminator="kind"),
]
WAITS_FOR_CALLER = (Menu, CollectDigits, RepairRequest, BookCallback)


class Flow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    start: str
    languages: list[str] = Field(min_length=1)
    max_retries: int | None = Field(default=None, ge=1, le=10)
    speech_threshold: float = Field(default=0.5, ge=0, le=1)
    """Below this recogniser confidence a spoken menu choice is not trusted, and the
    caller is asked for keys instead."""
    prompts: dict[str, dict[str, str]]
    nodes: dict[str, Node]

    def queues(self) -> list[str]:
        """Every queue this flow sends callers to, in each of its languages."""
        return sorted(
            {
                node.queue.format(language=language)
                for node in self.nodes.values()
                if isinstance(node, Queue)
                for language in self.languages
            }
        )

    def retries_of(self, node: BaseModel) -> int:
        limit = getattr(node, "retries", None) or self.max_retries
        assert limit is not None, "validated: every waiting node has a retry limit"
        return limit


def targets(node: BaseModel) -> Iterator[tuple[str, str]]:
    """(field, node name) of every node this one can lead to."""
    fields = ("next", "on_failure", "known", "unknown", "no_appliance", "during", "after")
    for field in (*fields, "overflow"):
        value = getattr(node, field, None)
        if value:
            yield field, value
    if isinstance(node, Menu):
        for key, option in node.options.items():
            yield f"options.{key}", option.next


def prompt_ids(node: BaseModel) -> Iterator[str]:
    fields = (
        "prompt",
        "greeting",
        "found",
        "none",
        "category",
        "choose",
        "option",
        "describe",
        "done",
        "slot_prompt",
        "slot_option",
    )
    for field in fields:
        value = getattr(node, field, None)
        if isinstance(value, str):
            yield value


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it: the pure-Python one took 20 ms of
every start (the app, a worker, an endpoint) to read the flows."""


def load_flow(path: Path) -> Flow:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise FlowError(path.name, None, f"cannot be read as YAML: {exc}") from exc
    try:
        flow = Flow.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = [str(part) for part in first["loc"]]
        node = location[1] if len(location) > 1 and location[0] == "nodes" else None
        raise FlowError(path.name, node, f"{'.'.join(location)}: {first['msg']}") from exc
    check_flow(flow, path.name)
    return flow


def load_flows(directory: Path) -> dict[str, Flow]:
    flows = {}
    for path in sorted(directory.glob("*.yaml")):
        flow = load_flow(path)
        flows[flow.name] = flow
    return flows


ENGINE_PROMPTS = ("invalid", "no_input")
"""Spoken by the engine itself when input is wrong or missing."""


def check_flow(flow: Flow, file: str) -> None:
    if flow.start not in flow.nodes:
        raise FlowError(file, None, f"start node '{flow.start}' does not exist")
    for language in flow.languages:
        for prompt in ENGINE_PROMPTS:
            if prompt not in flow.prompts.get(language, {}):
                raise FlowError(file, None, f"prompt '{prompt}' is missing for {language}")
    for name, node in flow.nodes.items():
        for field, target in targets(node):
            if target not in flow.nodes:
                raise FlowError(file, name, f"{field} refers to unknown node '{target}'")
        _check_prompts(flow, file, name, node)
        if isinstance(node, BookCallback) and bool(node.slot_prompt) != bool(node.slot_option):
            raise FlowError(file, name, "slot_prompt and slot_option go together")
        _check_way_out(flow, file, name, node)
    unreachable = sorted(set(flow.nodes) - _reachable(flow))
    if unreachable:
        raise FlowError(file, unreachable[0], "is unreachable from the start node")
    _check_loops(flow, file)


def _check_prompts(flow: Flow, file: str, name: str, node: BaseModel) -> None:
    for prompt in prompt_ids(node):
        for language in flow.languages:
            if prompt not in flow.prompts.get(language, {}):
                raise FlowError(file, name, f"prompt '{prompt}' is missing for {language}")


def _check_way_out(flow: Flow, file: str, name: str, node: BaseModel) -> None:
    if not isinstance(node, WAITS_FOR_CALLER):
        return
    if isinstance(node, Menu) and all(o.next == name for o in node.options.values()):
        raise FlowError(file, name, "menu has no way out: every option leads back to it")
    if node.on_failure is None or node.on_failure == name:
        raise FlowError(file, name, "has no way out after failed input (on_failure)")
    if node.retries is None and flow.max_retries is None:
        raise FlowError(file, name, "waits for input in a loop with no retry limit")


def _reachable(flow: Flow) -> set[str]:
    seen, todo = set(), [flow.start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(target for _f, target in targets(flow.nodes[name]))
    return seen


def _check_loops(flow: Flow, file: str) -> None:
    """A cycle of nodes that never wait for the caller would spin forever."""
    passive = {n for n, node in flow.nodes.items() if not isinstance(node, WAITS_FOR_CALLER)}
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        state[name] = 1
        for _field, target in targets(flow.nodes[name]):
            if target not in passive:
                continue
            if state.get(target) == 1:
                raise FlowError(file, target, "is in a loop with no retry limit")
            if target not in state:
                visit(target)
        state[name] = 2

    for name in sorted(passive):
        if name not in state:
            visit(name)
