"""The console runs the campaign command as Slack does (it shares the app): the campaign is stored, its
card is posted in the channel with its buttons, an approver approves it on the card, and the card's thread
tells who approved it and that the first wave started, its DMS's plan made by the bot."""

from __future__ import annotations

import io
from pathlib import Path

from bot.console.runner import run_console
from bot.settings import Settings
from tests.bot.console.test_console import FAST, clean_env, in_order

__all__ = ["clean_env"]  # the autouse fixture, so Settings never read this machine's environment


async def test_a_campaign_is_stored_and_approved_in_the_console(tmp_path: Path) -> None:
    targets = tmp_path / "targets.toml"
    targets.write_text('[[targets]]\nname = "staging"\nurl = "simulated"\nsim_version = "10.4.0 CU3"\n\n'
                       '[[targets]]\nname = "prod-eu"\nurl = "simulated"\nsim_version = "10.3.0 CU5"\n',
                       encoding="utf-8")
    script = "\n".join(["/dm-upgrade campaign 10.5 on staging then prod-eu soak 1h", "/as bob", "click 1"])
    out = io.StringIO()
    code = await run_console(Settings(_env_file=None, dms_targets_file=targets), options=FAST,
                             stdin=io.StringIO(script + "\n"), stdout=out, interactive=False)
    text = out.getvalue()
    assert code == 0, text
    in_order(
        text,
        "alice> /dm-upgrade campaign 10.5 on staging then prod-eu soak 1h",
        "== Campaign #1 to 10.5.0 CU18: proposed ==",
        "staging 10.4.0 CU3 → 10.5.0 CU18: waiting", "prod-eu 10.3.0 CU5 → 10.5.0 CU18: waiting",
        "[1] Approve the campaign*  [2] Move a window…  [3] Abort…!",
        "Campaign #1 to 10.5.0 CU18 proposed by @alice",
        "bob> click 1", '(confirm dialog "Approve the campaign?"',
        "Campaign #1 to 10.5.0 CU18 approved by @bob",
        "Wave 1 started (the campaign was approved): staging",
        "== Upgrade plan #1: staging",
    )
    assert "plan #1 made by the bot for its window" in text
    assert "(only visible to bob)" not in text[text.index("bob> click 1"):text.index("approved by @bob")]
