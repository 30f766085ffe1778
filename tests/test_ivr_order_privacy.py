"""The IVR reads out an order's status only to its own customer."""

from __future__ import annotations

from typing import Any

from tests.twilio_sim import TwilioSimulator


def test_a_caller_hears_only_their_own_orders_status(
    sim: TwilioSimulator, make_customer: Any, make_appliance: Any, make_order: Any
) -> None:
    """Found: an unknown caller who keyed in another customer's order number heard its
    status."""
    owner = make_customer(name="王建国", phones=("13800138000",))
    order = make_order(owner.id, make_appliance(owner.id).id)
    digits = order.number.removeprefix("WO") + "#"
    status = f"您的工单{order.number}目前状态是：已受理，等待派单。"

    stranger = sim.call("+8613912345678")
    stranger.press("2")
    heard = stranger.press(digits).said()
    assert status not in heard
    assert "没有找到正在处理的工单。" in heard

    neighbour = make_customer(name="李娜", phones=("13700137000",))
    make_appliance(neighbour.id)
    known = sim.call("+8613700137000")
    known.press("2")
    assert status not in known.press(digits).said()

    own = sim.call("+8613800138000")
    own.press("2")
    assert status in own.press(digits).said()
