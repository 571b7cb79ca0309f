"""The Home tab's Block Kit: escaping, the 100-block limit and the buttons each person gets."""

from __future__ import annotations

import json

from handlers.blocks.home import home_view
from handlers.ids import ActionId
from tests.handlers.conftest import START, make_snapshot
from workflow.home import HomePlan, HomeView, ManualItem


def _home(*, plans: int = 1, may_check: bool = False, dms: str = "DMS") -> HomeView:
    items = tuple(HomePlan(snapshot=make_snapshot(plan_id=i + 1).model_copy(update={"dms_name": dms}),
                           approval="not yet requested", may_check=may_check) for i in range(plans))
    manual = (ManualItem(plan_id=1, dms_name=dms, title="Back up <the> & databases"),)
    return HomeView(user="U0ALICE", now=START, upcoming=items, executing=items, last_results=items,
                    approvals=items, manual_items=manual)


def test_text_from_people_and_the_dms_is_escaped() -> None:
    view = home_view(_home(dms="<!channel> & co"), links={}, notice="bad <input>")
    text = json.dumps(view)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text
    assert "Back up &lt;the&gt; &amp; databases" in text and "bad &lt;input&gt;" in text
    assert "For <@U0ALICE>" in text


def test_many_plans_stay_within_the_tab_limits_and_say_how_many_more() -> None:
    view = home_view(_home(plans=40, may_check=True), links={1: "https://fake.slack.com/archives/C/p1"})
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert json.dumps(view, ensure_ascii=False).count("…and 34 more") == 4  # each of the four lists
    link = next(b["accessory"] for b in view["blocks"] if b.get("accessory"))
    assert link["action_id"] == ActionId.HOME_THREAD.value and link["url"].endswith("/p1")


def test_the_check_button_only_when_allowed() -> None:
    allowed = json.dumps(home_view(_home(may_check=True), links={}))
    refused = json.dumps(home_view(_home(may_check=False), links={}))
    assert ActionId.HOME_CHECK.value in allowed and ActionId.HOME_CHECK.value not in refused
