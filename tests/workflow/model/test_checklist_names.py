"""Every catalogue item has a short name: unique, typable, and the same whatever else a plan holds."""

from __future__ import annotations

import re

from workflow.model.checklist import MOP_STEPS, SHORT_NAMES, StepKey, build_steps, key_named, short_name


def test_every_catalogue_step_has_a_unique_typable_name() -> None:
    assert set(SHORT_NAMES) == set(StepKey)
    names = list(SHORT_NAMES.values())
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z][a-z0-9-]{1,24}", name) for name in names), names
    assert {short_name(step.key) for step in MOP_STEPS} >= {"backup", "release-notes", "requirements"}


def test_two_step_sets_name_the_same_item_alike_though_their_numbers_differ() -> None:
    plain = [step.key for step in build_steps()]
    fuller = [step.key for step in build_steps(requirements=("ASP.NET Core hosting bundle",),
                                                known_issues=("Hop 1: a known issue",), hotfixes=2,
                                                key_elements=("Core Router 1",))]
    assert plain.index(StepKey.VERIFY_AGENTS_RUNNING) != fuller.index(StepKey.VERIFY_AGENTS_RUNNING)
    for keys in (plain, fuller):
        assert key_named("backup", keys=keys) == StepKey.DETAILS_BACKUP
        assert key_named(" Release-Notes ", keys=keys) == StepKey.DETAILS_KNOWN_ISSUES
        assert key_named("details.backup", keys=keys) == StepKey.DETAILS_BACKUP  # the full key too
    assert key_named("hotfixes-installed", keys=plain) is None  # not in that plan
    assert key_named("hotfixes-installed", keys=fuller) == StepKey.VERIFY_HOTFIXES_INSTALLED
    added = next(key for key in fuller if key.startswith("details.requirement."))
    assert short_name(added) is None and key_named(added, keys=fuller) == added
    assert key_named("banana", keys=fuller) is None
