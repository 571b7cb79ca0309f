"""The campaigns' tables (``workflow.store.campaigns`` reads and writes them): the campaign, each of its
DMSs, and where its Slack messages live. ``workflow.store.tables`` imports them, so the metadata holds
every table whichever module is imported first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from workflow.store.columns import _created, _json, _time


class Campaign(SQLModel, table=True):
    """DMSs upgraded in waves (``workflow.campaign_engine``); all a poll needs after a restart is stored."""

    __tablename__ = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=32, index=True)  # a CampaignState value
    wave: int = 0  # the wave the state is about (0: none yet, or finished)
    waves: int
    halted_from: str | None = Field(default=None, max_length=32)  # the state a resume goes back to
    target_version: str = Field(max_length=64)
    requester: str = Field(max_length=100)
    channel: str = Field(default="", max_length=100)
    soak_minutes: int
    approved_by: str | None = Field(default=None, max_length=100)
    approved_at: datetime | None = _time()
    soak_until: datetime | None = _time()  # the current wave has soaked at this time (engine clock)
    next_check_at: datetime | None = _time()  # the next soak re-check is due (engine clock)
    halt_reason: str = Field(default="")
    created_at: datetime = _created()
    updated_at: datetime = _created()


class CampaignDms(SQLModel, table=True):
    """One DMS of a campaign: wave, window, the plan made when its wave started, the soak's findings."""

    __tablename__ = "campaign_dms"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "dms_name", name="uq_campaign_dms_campaign_dms"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    wave: int  # 1-based
    position: int
    dms_name: str = Field(max_length=100, index=True)
    state: str = Field(max_length=20)  # a MemberState value
    plan_id: int | None = Field(default=None, foreign_key="upgrade_plan.id")
    attempt: int = 1  # a resume after a failed or expired plan plans the DMS again
    current_version: str = Field(max_length=64)  # as read when the campaign was planned
    window_start: datetime | None = _time()  # proposed when planned; moved when its wave starts later
    window_end: datetime | None = _time()
    skip_reason: str = Field(default="")
    note: str = Field(default="")  # what it waits for or why it stopped, as the bot last saw it
    baseline: dict[str, Any] = _json(default=dict)  # dms.models.Baseline the soak compares with
    findings: list[dict[str, Any]] = _json(default=list)  # the last soak check's results (CheckResult)
    updated_at: datetime = _created()


class CampaignMessageRef(SQLModel, table=True):
    """Where a campaign's Slack message lives (its card, whose thread carries the campaign's news), as
    ``SlackMessageRef`` is for a plan's: a table of its own, so both keep a real foreign key."""

    __tablename__ = "campaign_message_ref"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "role", name="uq_campaign_message_ref_campaign_role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    role: str = Field(max_length=40)  # "card"
    channel: str = Field(max_length=100)
    ts: str = Field(max_length=40)
    updated_at: datetime = _created()
