"""Who may hear a recording: its agent, supervisors, and the agent now talking to the
same customer; nobody else, however guessable the ids."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from orders.enums import Role
from telephony.enums import CallState
from tests.conftest import bearer


def test_an_agent_cannot_download_another_agents_recording(
    client: TestClient,
    app: Any,
    make_user: Any,
    make_customer: Any,
    make_call: Any,
    make_recording: Any,
) -> None:
    """Found: any agent could fetch any recording by walking the sequential ids."""
    customer = make_customer()
    other = make_customer(name="林峰", phones=("13900139000",))
    handler, snooper = make_user(Role.AGENT), make_user(Role.AGENT)
    earlier = make_call(customer_ids=[customer.id], agent_id=handler.id, state=CallState.ENDED)
    recording = make_recording(earlier, app.state.recordings_dir)
    url = f"/api/console/recordings/{recording.id}/audio"

    assert client.get(url, headers=bearer(handler)).status_code == 200
    assert client.get(url, headers=bearer(make_user(Role.SUPERVISOR))).status_code == 200
    refused = client.get(url, headers=bearer(snooper))
    assert refused.status_code == 404
    assert refused.json()["error_id"] == "recording_not_found"

    # Talking to somebody else, then the same customer calls:
    make_call(customer_ids=[other.id], agent_id=snooper.id, state=CallState.BRIDGED)
    assert client.get(url, headers=bearer(snooper)).status_code == 404
    make_call(customer_ids=[customer.id], agent_id=snooper.id, state=CallState.BRIDGED)
    assert client.get(url, headers=bearer(snooper)).status_code == 200
