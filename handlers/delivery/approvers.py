"""Who may approve, as Slack knows it: the user ids of UPGRADE_APPROVERS, plus the members of the user group
UPGRADE_APPROVER_GROUP (``usergroups.users.list``, cached briefly). On Slack's free plan that method answers
``plan_upgrade_required``: the id list alone decides then, and we stop asking.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 60.0


class SlackApprovers:
    """Implements ``workflow.approvals.ApproverDirectory``."""

    def __init__(
        self,
        *,
        web_client: AsyncWebClient,
        user_ids: Iterable[str],
        group_id: str | None = None,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        names: tuple[str, str] = ("UPGRADE_APPROVERS", "approver"),
    ) -> None:
        self._client = web_client
        self._user_ids = frozenset(user.strip() for user in user_ids if user.strip())
        self._group_id = group_id.strip() if group_id and group_id.strip() else None
        self._ttl_s = ttl_s
        self._clock = clock
        self._members: frozenset[str] = frozenset()
        self._fetched_at: float | None = None
        self._group_unavailable = False
        self._setting, self._what = names  # for the log lines: the id-list setting, and who they are

    async def is_approver(self, user_id: str) -> bool:
        if user_id in self._user_ids:
            return True
        return user_id in await self.group_members()

    async def is_member(self, user_id: str) -> bool:
        """``workflow.roles.MemberDirectory``: the same lists serve the operators."""
        return await self.is_approver(user_id)

    async def group_members(self) -> frozenset[str]:
        """The group's members (cached ``ttl_s``); empty without a group or when Slack cannot tell."""
        if self._group_id is None or self._group_unavailable:
            return frozenset()
        now = self._clock()
        if self._fetched_at is not None and now - self._fetched_at < self._ttl_s:
            return self._members
        try:
            answer = await self._client.usergroups_users_list(usergroup=self._group_id)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "plan_upgrade_required":
                log.warning("user groups need a paid Slack plan: %ss come from %s only", self._what,
                            self._setting)
                self._group_unavailable = True
                return frozenset()
            # Keep the last known members (or none) and ask again after the ttl rather than on every click.
            log.warning("cannot read the %s group %s: %s", self._what, self._group_id, error)
            self._fetched_at = now
            return self._members
        users: list[str] = list(answer.get("users", []) or [])
        self._members = frozenset(str(user) for user in users)
        self._fetched_at = now
        return self._members
