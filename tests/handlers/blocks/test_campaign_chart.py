"""The campaign timeline picture: every DMS's window and upgrade, the soaks and the markers are drawn (read
back from the figure's gids), a campaign under way shows "now" and its running upgrade hatched, and text a
person typed is drawn as written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.blocks.campaign_chart import draw_campaign, render_campaign_png
from workflow.campaign_timeline import CampaignMarker, CampaignTimeline, DmsLane, Soak

T0 = datetime(2026, 12, 8, 22, 0, tzinfo=UTC)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def timeline(*, state: str = "soaking wave 2", running: bool = True) -> CampaignTimeline:
    return CampaignTimeline(
        campaign_id=4, title="Campaign #4 to 10.5.0 CU18: 2 waves, soak 24h00m", state=state, now=hours(30),
        lanes=(
            DmsLane(name="staging", wave=1, window=(hours(0), hours(3)), upgrade=(hours(0.2), hours(2)),
                    outcome="done"),
            DmsLane(name="prod-$eu", wave=2, window=(hours(27), hours(31)),
                    upgrade=(hours(27.1), hours(30)), outcome="running" if running else "done"),
            DmsLane(name="prod-us", wave=2, window=(hours(27), hours(31)), upgrade=None, outcome="skipped"),
        ),
        soaks=(Soak(wave=1, start=hours(2), end=hours(26), finished=True),),
        markers=(CampaignMarker(at=hours(-1), kind="approval", label="approved by UAPP"),
                 CampaignMarker(at=hours(28), kind="halt", label="halted in wave 2"),
                 CampaignMarker(at=hours(29), kind="resume", label="resumed by UAPP2"),
                 *((CampaignMarker(at=hours(30), kind="now", label="now"),) if running else ())),
    )


def gids(figure: object) -> set[str]:
    found = set()
    for ax in figure.axes:  # type: ignore[attr-defined]
        for artist in (*ax.collections, *ax.lines, *ax.patches):
            if artist.get_gid():
                found.add(artist.get_gid())
    return found


def test_every_lane_soak_and_marker_is_drawn() -> None:
    drawn = gids(draw_campaign(timeline()))
    assert {"staging:window", "staging:done", "prod-$eu:window", "prod-$eu:running", "prod-us:window",
            "soak:1", "marker:approval", "marker:halt", "marker:resume", "marker:now"} <= drawn
    assert not any(gid.startswith("prod-us:") and gid != "prod-us:window" for gid in drawn)  # skipped


def test_a_finished_campaign_has_no_now_and_a_png_comes_out() -> None:
    done = timeline(state="done", running=False)
    assert "marker:now" not in gids(draw_campaign(done))
    picture = render_campaign_png(done)
    assert picture.startswith(b"\x89PNG") and len(picture) > 10_000


def test_typed_text_is_drawn_as_written_not_as_mathematics() -> None:
    figure = draw_campaign(timeline())
    labels = [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    assert "W2 prod-\\$eu" in labels
