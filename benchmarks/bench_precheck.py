"""How long the whole pre-upgrade check takes against a slow, large DMS, compared with one agent's own chain.

The simulated DMS has 100 agents and answers every request after 200 ms (real time). One agent's chain is what
reading a single agent costs: ConnectApp, GetDataMinerAgentsInfo and that agent's version read
(ConnectAppAndInfo + LogOut on its own address). The whole check reads every agent's version, the statistics,
the alarms and a key element; because it fans out concurrently it should cost at most 1.5x that chain.
The same check with the fan-out bounded to one agent at a time is printed for contrast.

    python benchmarks/bench_precheck.py [--agents 100] [--latency-ms 200] [--rounds 3] [--no-sequential]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing

from dms.client import DmsClient
from dms.prechecks import run_prechecks
from simulator import SimulatedDms, SimulatorConfig

TARGET_RATIO = 1.5
USER, PASSWORD = "admin", "bench-password"


def _client(url: str, *, concurrency: int) -> DmsClient:
    return DmsClient(url=url, user=USER, password=PASSWORD, concurrency=concurrency, timeout_s=30.0,
                     retries=0)


def serve(config: SimulatorConfig, pipe: Connection) -> None:
    """The simulated DMS in a process of its own, as a real DMS is another machine: its CPU is not ours."""

    async def run() -> None:
        simulator = SimulatedDms(config)
        pipe.send(await simulator.start())
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # until told to stop
        await simulator.stop()

    asyncio.run(run())


async def one_agent_chain(url: str) -> tuple[float, str]:
    client = _client(url, concurrency=1)
    started = time.perf_counter()
    await client.connect()
    agents = await client.agents_info()
    await client.agent_version(agents[-1])
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed, agents[0].name


async def whole_check(url: str, *, concurrency: int, key_element: str) -> tuple[float, bool, int]:
    client = _client(url, concurrency=concurrency)
    started = time.perf_counter()
    report = await run_prechecks(client, path=None, blocking_severities=["Critical", "Major"],
                                 key_elements=[key_element])
    elapsed = time.perf_counter() - started
    await client.close()
    versions = len(report.baseline.versions)
    return elapsed, report.passed, versions


async def measure(url: str, *, agents: int, latency_ms: float, sequential: bool, rounds: int) -> int:
    await one_agent_chain(url)  # warm-up: imports, first sockets
    chains: list[float] = []
    wholes: list[float] = []
    for _ in range(rounds):  # alternate, so a burst of load on the machine hits both sides alike
        chain, first_agent = await one_agent_chain(url)
        key_element = f"{first_agent} Element 001"
        whole, passed, versions = await whole_check(url, concurrency=agents, key_element=key_element)
        chains.append(chain)
        wholes.append(whole)
    chain, whole = statistics.median(chains), statistics.median(wholes)
    print(f"simulated DMS: {agents} agents, {latency_ms:g} ms latency per request, {url}")
    print(f"one agent's chain (connect + info + version read): {chain:7.3f} s  (median of {rounds})")
    print(f"whole pre-upgrade check (concurrency {agents}):    {whole:7.3f} s  (median of {rounds}; "
          f"{versions} agent versions read, passed={passed})")
    ratio = whole / chain
    verdict = "OK" if ratio <= TARGET_RATIO else "TOO SLOW"
    print(f"ratio whole / chain: {ratio:.2f}x (target <= {TARGET_RATIO}x): {verdict}")
    if sequential:
        slow, _, _ = await whole_check(url, concurrency=1, key_element=key_element)
        print(f"same check, one agent at a time (sequential): {slow:7.3f} s ({slow / chain:.1f}x the chain)")
    return 0 if ratio <= TARGET_RATIO else 1


def main(*, agents: int, latency_ms: float, sequential: bool, rounds: int) -> int:
    config = SimulatorConfig(agents=agents, latency_ms=latency_ms, user=USER, password=PASSWORD)
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(config, theirs), daemon=True)
    server.start()
    try:
        if not ours.poll(30):
            print("the simulated DMS did not start within 30 s", file=sys.stderr)
            return 2
        url = str(ours.recv())
        return asyncio.run(measure(url, agents=agents, latency_ms=latency_ms, sequential=sequential,
                                   rounds=rounds))
    finally:
        ours.send("stop")
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each; medians are compared")
    parser.add_argument("--no-sequential", action="store_true", help="skip the slow sequential run")
    options = parser.parse_args()
    sys.exit(main(agents=options.agents, latency_ms=options.latency_ms, sequential=not options.no_sequential,
                  rounds=max(1, options.rounds)))
