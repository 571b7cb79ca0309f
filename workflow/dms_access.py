"""From a DMS target's name to a connected ``DmsClient`` and its ``UpgradeDriver``.

The targets come from ``workflow.targets`` (DMS_URL as ``default``, or the targets file). A target whose URL
is ``simulated`` needs the address of a running simulator: the composition root starts one in-process for
each such target and passes their URLs here as ``simulated_urls`` by target name (or one for them all as
``simulated_url``; and, when the simulator plays the person in Cube, how to tell it each step:
``person_for``); this module never starts anything itself, and never imports the simulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from dms.client import DmsClient
from dms.drivers import AskPerson, UpgradeDriver, make_driver
from workflow.model.errors import ConfigError, NotFound, UserError
from workflow.settings import WorkflowSettings
from workflow.targets import DEFAULT_TARGET, TargetConfig, load_targets

# Who plays the person in Cube for a target URL (the watch driver's steps): only a simulator does, and the
# composition root, which starts it, says so.
PersonFor = Callable[[str], AskPerson]


@dataclass(frozen=True)
class Connection:
    """A client and the driver that uses it, for one target."""

    target: TargetConfig
    client: DmsClient
    driver: UpgradeDriver


class DmsAccess:
    """Knows every configured target and opens clients to them."""

    def __init__(
        self,
        *,
        settings: WorkflowSettings,
        targets: Mapping[str, TargetConfig] | None = None,
        simulated_url: str | None = None,
        simulated_urls: Mapping[str, str] | None = None,
        person_for: PersonFor | None = None,
    ) -> None:
        self._settings = settings
        self._person_for = person_for
        self._targets = dict(targets) if targets is not None else load_targets(settings)
        if not self._targets:
            raise ConfigError("no DMS target is configured")
        self._simulated_url = simulated_url
        self._simulated_urls = dict(simulated_urls or {})

    @property
    def targets(self) -> dict[str, TargetConfig]:
        return dict(self._targets)

    @property
    def default_name(self) -> str:
        return DEFAULT_TARGET if DEFAULT_TARGET in self._targets else next(iter(self._targets))

    def target(self, name: str | None) -> TargetConfig:
        """The named target (None: the default); NotFound lists the known names."""
        key = name.strip() if name else self.default_name
        target = self._targets.get(key)
        if target is None:
            known = ", ".join(sorted(self._targets))
            raise NotFound(f"There is no DMS target named {key!r} (known: {known})")
        return target

    def url_of(self, target: TargetConfig) -> str:
        if target.simulated:
            url = self._simulated_urls.get(target.name) or self._simulated_url
            if not url:
                raise UserError(f"DMS target {target.name!r} is simulated, but no simulator is running")
            return url
        return target.url

    def client(self, name: str | None) -> DmsClient:
        """A new client for the target; the caller closes it (``async with`` or ``await close()``)."""
        settings = self._settings
        target = self.target(name)
        verify: bool | str = settings.dms_tls_verify
        if verify and settings.dms_ca_bundle is not None:
            verify = str(settings.dms_ca_bundle)
        return DmsClient(
            url=self.url_of(target),
            user=target.user,
            password=target.password,
            agent_url_template="" if target.simulated else settings.dms_agent_url_template,
            verify=verify,
            timeout_s=settings.dms_timeout_seconds,
            retries=settings.dms_retries,
            concurrency=settings.dms_concurrency,
            max_agents=settings.dms_max_agents, agent_allow=settings.dms_agent_allow,
            allow_plain_http=settings.dms_allow_plain_http, name=target.name,
        )

    def driver_kind(self, name: str | None) -> str:
        return self.target(name).driver or self._settings.dms_driver

    @asynccontextmanager
    async def open(self, name: str | None) -> AsyncIterator[Connection]:
        """A client and driver for the target, closed on exit."""
        target = self.target(name)
        client = self.client(target.name)
        try:
            person = self._person_for(self.url_of(target)) if self._person_for is not None else None
            yield Connection(target=target, client=client,
                             driver=make_driver(self.driver_kind(target.name), client=client,
                                                package_folder=self._settings.dms_package_folder,
                                                utility_path=self._settings.dms_taskbar_utility_path,
                                                person=person))
        finally:
            await client.close()
