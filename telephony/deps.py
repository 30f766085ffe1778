"""FastAPI dependencies of the call routes: the process's one switchboard.

``async`` because they only read ``app.state`` (see core.deps)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from telephony.acd import Acd
from telephony.events import CallNotifier
from telephony.switchboard import Switchboard


async def switchboard(request: Request) -> Switchboard:
    board: Switchboard = request.app.state.switchboard
    return board


async def call_distribution(board: Annotated[Switchboard, Depends(switchboard)]) -> Acd:
    return board.acd


async def notifier(board: Annotated[Switchboard, Depends(switchboard)]) -> CallNotifier:
    return board.notifier


SwitchboardDep = Annotated[Switchboard, Depends(switchboard)]
AcdDep = Annotated[Acd, Depends(call_distribution)]
Notifier = Annotated[CallNotifier, Depends(notifier)]
