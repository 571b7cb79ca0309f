"""A minimal DMS over real HTTP that answers only with the documented shapes of the fixture's types.

Independent of the simulator, so the acceptance check ("``dm-upgrade check`` against a DMS that answers only
documented shapes") does not rest on the simulator's own reading of the docs. Runs on its own event loop in a
thread, because the CLI runs ``asyncio.run`` itself.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from tests.dms.test_ws_contract import sample


def agent() -> dict[str, Any]:
    return {**sample("DMAInfo"), "ID": 1, "Name": "DMA01", "PrimaryIP": "127.0.0.1", "Status": "Running",
            "IsFailOver": False}


def alarm(
    *, state: str, masked: bool = False, element_masked: bool = False, cleared: bool = False
) -> dict[str, Any]:
    return {**sample("DMAAlarm"), "DataMinerID": 1, "ID": 11, "AlarmState": state, "IsMasked": masked,
            "IsElementMasked": element_masked, "IsCleared": cleared, "ElementName": "Core Router"}


class DocumentedDms:
    def __init__(self, *, alarms: list[dict[str, Any]], version: str = "10.4.0.0-14772-CU3",
                 message_type: str = "") -> None:
        self.alarms = alarms
        self.version = version
        self.message_type = message_type
        self.connect_bodies: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await request.json()
        stats = {**sample("DMAStatistics"), "ID": 1}
        info = {**sample("DMAConnectAndInfo"), "Connection": "" if self.message_type else "c-1",
                "DMAVersion": self.version, "MessageType": self.message_type, "Message": "enter the code"}
        answers: dict[str, Any] = {
            "ConnectApp": "c-0", "ConnectAppAndInfo": info, "GetDataMinerAgentsInfo": [agent()],
            "GetDataMinerAgentsStatistics": [stats], "GetActiveAlarms": self.alarms, "LogOut": None,
        }
        if method.startswith("Connect"):
            self.connect_bodies.append(body)
        return web.json_response({"d": answers[method]})

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_post("/API/v1/Json.asmx/{method}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> DocumentedDms:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
