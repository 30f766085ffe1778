"""Flow files are checked at load; every problem names the file and the node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.exceptions import FlowError
from ivr.flow import BUILTIN_FLOWS, load_flow, load_flows

BASE: dict[str, Any] = {
    "name": "t",
    "start": "menu",
    "languages": ["zh-CN"],
    "max_retries": 3,
    "prompts": {
        "zh-CN": {
            "menu": "请按1",
            "bye": "再见",
            "hi": "您好",
            "invalid": "无效",
            "no_input": "无输入",
        }
    },
    "nodes": {
        "menu": {
            "kind": "menu",
            "prompt": "menu",
            "options": {"1": {"next": "bye"}},
            "on_failure": "bye",
        },
        "bye": {"kind": "hangup", "prompt": "bye"},
    },
}


def _write(tmp_path: Path, flow: dict[str, Any], name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(flow, allow_unicode=True), encoding="utf-8")
    return path


def _with(**nodes: Any) -> dict[str, Any]:
    flow = yaml.safe_load(yaml.safe_dump(BASE))
    for name, node in nodes.items():
        if node is None:
            del flow["nodes"][name]
        else:
            flow["nodes"][name] = node
    return flow


def test_builtin_hotline_flow_is_valid() -> None:
    flows = load_flows(BUILTIN_FLOWS)
    assert set(flows["hotline"].languages) == {"zh-CN", "en"}


def test_a_valid_flow_loads(tmp_path: Path) -> None:
    assert load_flow(_write(tmp_path, BASE)).start == "menu"


@pytest.mark.parametrize(
    ("flow", "node", "words"),
    [
        (
            _with(
                menu={
                    "kind": "menu",
                    "prompt": "menu",
                    "options": {"1": {"next": "nowhere"}},
                    "on_failure": "bye",
                }
            ),
            "menu",
            "unknown node 'nowhere'",
        ),
        (_with(orphan={"kind": "say", "prompt": "hi", "next": "bye"}), "orphan", "unreachable"),
        (
            _with(bye={"kind": "hangup", "prompt": "farewell"}),
            "bye",
            "prompt 'farewell' is missing for zh-CN",
        ),
        (
            _with(
                menu={
                    "kind": "menu",
                    "prompt": "menu",
                    "options": {"1": {"next": "menu"}},
                    "on_failure": "bye",
                }
            ),
            "menu",
            "no way out",
        ),
        (
            _with(menu={"kind": "menu", "prompt": "menu", "options": {"1": {"next": "bye"}}}),
            "menu",
            "no way out after failed input",
        ),
        (
            _with(
                menu={
                    "kind": "menu",
                    "prompt": "menu",
                    "options": {"1": {"next": "a"}},
                    "on_failure": "bye",
                },
                a={"kind": "say", "prompt": "hi", "next": "b"},
                b={"kind": "say", "prompt": "hi", "next": "a"},
            ),
            "a",
            "loop with no retry limit",
        ),
        (
            _with(
                menu={
                    "kind": "menu",
                    "prompt": "menu",
                    "options": {"1": {"next": "bye"}},
                    "on_failure": "bye",
                    "colour": "red",
                }
            ),
            "menu",
            "colour",
        ),
        (_with(menu={"kind": "juggle"}), "menu", "kind"),
    ],
    ids=[
        "unknown reference",
        "unreachable",
        "missing prompt",
        "menu without way out",
        "no failure path",
        "passive loop",
        "unknown field",
        "unknown kind",
    ],
)
def test_each_problem_names_file_and_node(
    tmp_path: Path, flow: dict[str, Any], node: str, words: str
) -> None:
    with pytest.raises(FlowError) as caught:
        load_flow(_write(tmp_path, flow))
    error = caught.value
    assert (error.file, error.node) == ("broken.yaml", node)
    assert words in error.message
    assert error.message.startswith(f"broken.yaml: node '{node}'")


def test_no_retry_limit_anywhere_is_refused(tmp_path: Path) -> None:
    flow = _with()
    del flow["max_retries"]
    with pytest.raises(FlowError, match=r"node 'menu'.*no retry limit"):
        load_flow(_write(tmp_path, flow))


def test_bad_yaml_and_missing_start_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [unclosed", encoding="utf-8")
    with pytest.raises(FlowError, match=r"^bad\.yaml: cannot be read as YAML"):
        load_flow(bad)
    flow = _with()
    flow["start"] = "missing"
    with pytest.raises(FlowError, match="start node 'missing' does not exist"):
        load_flow(_write(tmp_path, flow))
