"""Callers' numbers are read in the configured region, in the IVR as at the screen pop."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.settings import PhoneSettings, Settings
from tests.twilio_sim import TwilioSimulator


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"phone": PhoneSettings(default_region="GB")})


def test_a_shared_line_hears_its_order_when_the_number_comes_without_country_code(
    sim: TwilioSimulator, make_customer: Any, make_appliance: Any, make_order: Any
) -> None:
    """Found in review: the order-status check read the caller's number as Chinese
    whatever the configured region, so a family on one line never heard its orders."""
    husband = make_customer(name="王建国", phones=("+447911123456",))
    make_customer(name="李娜", phones=("+447911123456",))
    order = make_order(husband.id, make_appliance(husband.id).id)
    status = f"您的工单{order.number}目前状态是：已受理，等待派单。"

    call = sim.call("07911 123456")
    call.press("2")
    assert status in call.press(order.number.removeprefix("WO") + "#").said()
