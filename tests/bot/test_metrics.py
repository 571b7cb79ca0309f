"""``GET /metrics``: Prometheus text with plans by state, DMS reachability, leases and the leader."""

from __future__ import annotations

from tests.handlers.conftest import Stack, plan_message, stack  # noqa: F401  (the fixture)
from tests.support.polling import wait_until


async def test_metrics_show_plans_reachability_and_leases(stack: Stack) -> None:  # noqa: F811
    assert (await stack.slash("plan 10.4")).status_code == 200
    await plan_message(stack)
    await stack.settle()

    async def text() -> str:
        response = await stack.http.get("/metrics")
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
        return response.text

    await wait_until(lambda: _has(text, 'dmu_dms_reachable{dms="default"} 1'), timeout_s=10,
                     what="the DMS probe")
    body = await text()
    assert 'dmu_plans{state="planned"} 1' in body
    assert "dmu_scheduler_leader 1" in body
    assert 'dmu_lease_owner{name="scheduler",owner="' in body
    assert "dmu_execution_database_waits_total 0" in body


async def _has(text: object, line: str) -> bool:
    return line in await text()  # type: ignore[operator]
