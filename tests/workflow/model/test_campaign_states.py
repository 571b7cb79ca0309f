"""The campaign's state machine as values (``workflow.model.campaign_states``): every move of the table,
the wave rules on top of it, and a refusal naming both states."""

from __future__ import annotations

import itertools

import pytest

from workflow.model.campaign_states import (
    ALLOWED,
    WITH_WAVE,
    CampaignState,
    CampaignStatus,
    IllegalCampaignMove,
    MemberState,
    allowed,
    check_move,
)
from workflow.model.errors import UserError

S = CampaignState
WAVES = 3


def st(state: CampaignState, wave: int = 0) -> CampaignStatus:
    return CampaignStatus(state, wave)


# Every allowed move, with waves that fit: the table, spelled out once more by hand.
LEGAL = [
    (st(S.PROPOSED), st(S.APPROVED)),
    (st(S.PROPOSED), st(S.ABORTED)),
    (st(S.APPROVED), st(S.WAVE_RUNNING, 1)),
    (st(S.APPROVED), st(S.ABORTED)),
    (st(S.WAVE_RUNNING, 1), st(S.SOAKING, 1)),
    (st(S.WAVE_RUNNING, 2), st(S.HALTED, 2)),
    (st(S.WAVE_RUNNING, 2), st(S.ABORTED)),
    (st(S.SOAKING, 1), st(S.WAVE_RUNNING, 2)),
    (st(S.SOAKING, 3), st(S.DONE)),
    (st(S.SOAKING, 2), st(S.HALTED, 2)),
    (st(S.SOAKING, 2), st(S.ABORTED)),
    (st(S.HALTED, 2), st(S.ABORTED)),
]


@pytest.mark.parametrize(("before", "after"), LEGAL, ids=lambda s: s.label)
def test_every_allowed_move(before: CampaignStatus, after: CampaignStatus) -> None:
    check_move(7, before, after, waves=WAVES)
    assert allowed(before, after, waves=WAVES)


def test_the_table_is_what_the_legal_moves_use() -> None:
    used = {(before.state, after.state) for before, after in LEGAL}
    used |= {(S.HALTED, S.WAVE_RUNNING), (S.HALTED, S.SOAKING)}  # resumes, below
    table = {(before, after) for before, targets in ALLOWED.items() for after in targets}
    assert used == table


def test_every_move_outside_the_table_is_refused_naming_both_states() -> None:
    for before, after in itertools.product(CampaignState, CampaignState):
        if after in ALLOWED[before]:
            continue
        b = st(before, 1 if before in WITH_WAVE else 0)
        a = st(after, 1 if after in WITH_WAVE else 0)
        with pytest.raises(IllegalCampaignMove) as refused:
            check_move(7, b, a, waves=WAVES)
        assert isinstance(refused.value, UserError)
        assert f"Campaign #7 cannot go from {b.label} to {a.label}" in refused.value.message


@pytest.mark.parametrize("halted_from", [S.WAVE_RUNNING, S.SOAKING])
def test_a_resume_goes_back_where_it_was_halted(halted_from: CampaignState) -> None:
    other = S.SOAKING if halted_from is S.WAVE_RUNNING else S.WAVE_RUNNING
    check_move(1, st(S.HALTED, 2), st(halted_from, 2), waves=WAVES, halted_from=halted_from)
    with pytest.raises(IllegalCampaignMove, match="resumes where it was halted"):
        check_move(1, st(S.HALTED, 2), st(other, 2), waves=WAVES, halted_from=halted_from)
    with pytest.raises(IllegalCampaignMove, match="the wave does not change"):
        check_move(1, st(S.HALTED, 2), st(halted_from, 3), waves=WAVES, halted_from=halted_from)


@pytest.mark.parametrize(("before", "after", "why"), [
    (st(S.APPROVED), st(S.WAVE_RUNNING, 2), "the first wave starts first"),
    (st(S.SOAKING, 1), st(S.WAVE_RUNNING, 3), "waves run in order"),
    (st(S.SOAKING, 1), st(S.WAVE_RUNNING, 1), "waves run in order"),
    (st(S.SOAKING, 2), st(S.DONE), "wave 2 is not the last"),
    (st(S.WAVE_RUNNING, 1), st(S.SOAKING, 2), "the wave does not change"),
    (st(S.WAVE_RUNNING, 1), st(S.HALTED, 2), "the wave does not change"),
    (st(S.SOAKING, 3), st(S.WAVE_RUNNING, 4), "waves 1 to 3"),
    (st(S.APPROVED), st(S.WAVE_RUNNING, 0), "waves 1 to 3"),
])
def test_waves_follow_one_another(before: CampaignStatus, after: CampaignStatus, why: str) -> None:
    with pytest.raises(IllegalCampaignMove, match=why):
        check_move(1, before, after, waves=WAVES)
    assert not allowed(before, after, waves=WAVES)


def test_finished_campaigns_move_no_more() -> None:
    for end in (S.DONE, S.ABORTED):
        assert end.terminal and not ALLOWED[end]
        with pytest.raises(IllegalCampaignMove, match="it is finished"):
            check_move(1, st(end), st(S.HALTED, 1), waves=WAVES)


def test_labels_and_settled_members() -> None:
    assert st(S.WAVE_RUNNING, 2).label == "wave 2 running"
    assert st(S.SOAKING, 1).label == "soaking wave 1"
    assert st(S.HALTED, 3).label == "halted in wave 3"
    assert st(S.PROPOSED).label == "proposed"
    assert {m for m in MemberState if m.settled} == {MemberState.UPGRADED, MemberState.SKIPPED}
