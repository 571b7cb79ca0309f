"""SlackApprovers on the fake Web API: the id list, the user group (cached), the free-plan fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.console.fake_slack import FakeSlack
from handlers.delivery.approvers import SlackApprovers
from handlers.delivery.slack_web import make_web_client
from tests.handlers.conftest import TOKEN


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def directory(slack: FakeSlack, clock: Ticks, *, group: str | None = "S0APPROVERS") -> SlackApprovers:
    assert slack.base_url is not None
    client = make_web_client(token=TOKEN, base_url=slack.base_url, jitter=0.0, backoff_factor=0.01)
    return SlackApprovers(web_client=client, user_ids=["UAPP1", " "], group_id=group, ttl_s=60, clock=clock)


async def test_ids_and_group_members_are_approvers(slack: FakeSlack) -> None:
    slack.set_group_members("S0APPROVERS", ["UGRP1", "UGRP2"])
    approvers = directory(slack, Ticks())
    assert await approvers.is_approver("UAPP1")
    assert await approvers.is_approver("UGRP2")
    assert not await approvers.is_approver("UOTHER")
    assert not await approvers.is_approver("")


async def test_group_members_are_cached_briefly(slack: FakeSlack) -> None:
    clock = Ticks()
    slack.set_group_members("S0APPROVERS", ["UGRP1"])
    approvers = directory(slack, clock)
    assert await approvers.is_approver("UGRP1")
    slack.set_group_members("S0APPROVERS", ["UGRP2"])
    assert not await approvers.is_approver("UGRP2")  # still the cached list
    assert len(slack.calls_for("usergroups.users.list")) == 1
    clock.now += 61
    assert await approvers.is_approver("UGRP2")
    assert len(slack.calls_for("usergroups.users.list")) == 2


async def test_free_plan_falls_back_to_the_id_list(slack: FakeSlack) -> None:
    clock = Ticks()
    slack.set_groups_require_paid_plan()
    approvers = directory(slack, clock)
    assert await approvers.is_approver("UAPP1")
    assert not await approvers.is_approver("UGRP1")
    clock.now += 1000
    assert not await approvers.is_approver("UGRP1")
    assert len(slack.calls_for("usergroups.users.list")) == 1  # not asked again


async def test_without_a_group_slack_is_not_asked(slack: FakeSlack) -> None:
    approvers = directory(slack, Ticks(), group=None)
    assert not await approvers.is_approver("UGRP1")
    assert not slack.calls_for("usergroups.users.list")


async def test_the_same_directory_serves_the_operators(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    assert slack.base_url is not None
    client = make_web_client(token=TOKEN, base_url=slack.base_url, jitter=0.0, backoff_factor=0.01)
    slack.set_group_members("S0OPS", ["UOPS1"])
    operators = SlackApprovers(web_client=client, user_ids=["UOPS2"], group_id="S0OPS",
                               names=("UPGRADE_OPERATORS", "operator"))
    assert await operators.is_member("UOPS1") and await operators.is_member("UOPS2")
    assert not await operators.is_member("UAPP1")
    slack.set_groups_require_paid_plan()
    free = SlackApprovers(web_client=client, user_ids=[], group_id="S0OPS",
                          names=("UPGRADE_OPERATORS", "operator"))
    assert not await free.is_member("UOPS1")
    assert "operators come from UPGRADE_OPERATORS only" in caplog.text
