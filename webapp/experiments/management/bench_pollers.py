"""The polling half of ``bench_events``: N live pages polling ``events?after=SEQ``, run in a process of their own
(standard library only, so a spawned process imports no Django), so that the benchmark's writer, which appends
events through Django in the parent process, does not hold the pollers' interpreter lock and count as server time.
"""
from __future__ import annotations

import json
import multiprocessing
import random
import threading
import time
import urllib.request
from typing import Any


def fetch_events(url: str, headers: dict[str, str], after: int) -> tuple[float, dict[str, Any]]:
    """One ``events?after=`` request: its seconds and its answer."""
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(f"{url}?after={after}", headers=headers), timeout=30) as r:
        body = json.loads(r.read())
    return time.perf_counter() - start, body


def _poll(url: str, headers: dict[str, str], after: int, interval: float, phase: float, until: float,
          took: list[float], errors: list[str]) -> None:
    time.sleep(phase)  # pages opened at different moments poll out of step with each other
    last = after
    while time.time() < until:
        try:
            seconds, body = fetch_events(url, headers, last)
        except Exception as exc:  # noqa: BLE001 - counted, not hidden
            errors.append(str(exc))
        else:
            took.append(seconds)
            last = body["last_seq"]
        time.sleep(max(0.0, min(interval, until - time.time())))


def _run(url: str, token: str, after: int, pollers: int, interval: float, seconds: float, in_step: bool,
         out: Any) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    phases = random.Random(1)
    until = time.time() + seconds
    took: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=_poll, args=(url, headers, after, interval,
                                                    0.0 if in_step else phases.uniform(0, interval), until, took, errors))
               for _ in range(pollers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((took, errors))


def poll_in_a_process(url: str, token: str, after: int, pollers: int, interval: float, seconds: float,
                      in_step: bool) -> tuple[list[float], list[str]]:
    """Each successful poll's seconds, and the failures, of ``pollers`` pollers over ``seconds``."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_run, args=(url, token, after, pollers, interval, seconds, in_step, out))
    process.start()
    try:
        return out.get(timeout=seconds + 120)
    finally:
        process.join(timeout=30)
