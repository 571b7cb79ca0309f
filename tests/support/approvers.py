"""Approver directories for tests: a fixed id list, and any of several directories."""

from __future__ import annotations

from collections.abc import Iterable

from workflow.approvals import ApproverDirectory


class StaticApprovers:
    """Approvers named by Slack user id (UPGRADE_APPROVERS)."""

    def __init__(self, user_ids: Iterable[str]) -> None:
        self._user_ids = frozenset(user_id.strip() for user_id in user_ids if user_id.strip())

    async def is_approver(self, user_id: str) -> bool:
        return user_id in self._user_ids

    async def is_member(self, user_id: str) -> bool:  # as a ``workflow.roles.MemberDirectory`` (operators)
        return user_id in self._user_ids


class AnyApprovers:
    """An approver of any of the directories (e.g. the id list or the Slack user group)."""

    def __init__(self, *directories: ApproverDirectory) -> None:
        self._directories = directories

    async def is_approver(self, user_id: str) -> bool:
        for directory in self._directories:
            if await directory.is_approver(user_id):
                return True
        return False
