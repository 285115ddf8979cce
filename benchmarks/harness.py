"""Running and timing commands for the benchmarks: wall seconds and peak RSS of a process tree.

A command's peak RSS is the peak of the sum over its whole process tree (its process group,
sampled from /proc every ``SAMPLE_SECONDS``; a worker process counts), or the largest single
process's exact peak from ``/usr/bin/time -v`` if that is higher (a peak shorter than one sample).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    stdout: str
    stopped: bool = False


SAMPLE_SECONDS = 0.05


def _group_status(group: int, skip: int) -> list[str]:
    """/proc/<pid>/status of the live processes of a process group, but ``skip``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != group or int(stat.parent.name) == skip:
                continue
            found.append(stat.with_name("status").read_text())
        except (OSError, IndexError, ValueError):
            continue
    return found


def _kb(status: str, field: str) -> int:
    found = re.search(rf"{field}:\s+(\d+) kB", status)
    return int(found.group(1)) if found else 0


def group_peak_rss_mb(group: int) -> float:
    """The largest VmHWM (peak RSS) among the live processes of a process group."""
    return max((_kb(s, "VmHWM") for s in _group_status(group, skip=0)), default=0) / 1024


class TreeRss:
    """The peak, over samples, of the summed VmRSS of a process group (a thread samples it)."""

    def __init__(self, group: int, skip: int) -> None:
        self.group, self.skip, self.peak_kb = group, skip, 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            total = sum(_kb(s, "VmRSS") for s in _group_status(self.group, self.skip))
            self.peak_kb = max(self.peak_kb, total)

    def stop(self) -> float:
        """Stop sampling; the peak in MB."""
        self.stopped.set()
        self.thread.join()
        return self.peak_kb / 1024


def timed(command: list[str], timeout: float | None = None) -> Run:
    """Run ``command`` under /usr/bin/time -v: wall seconds, peak RSS of its tree, stdout.

    Past ``timeout`` the command is stopped (its whole process group) and the run comes back with
    ``stopped`` set: its seconds and peak RSS are then lower bounds.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        ["/usr/bin/time", "-v", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    tree = TreeRss(process.pid, skip=process.pid)  # /usr/bin/time itself is not the command
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        peak = max(group_peak_rss_mb(process.pid), tree.stop())
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate()
        return Run(time.perf_counter() - start, peak, "", stopped=True)
    seconds = time.perf_counter() - start
    tree_mb = tree.stop()
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if found is None or process.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-2000:]}")
    return Run(seconds, max(int(found.group(1)) / 1024, tree_mb), stdout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {seconds:.0f} s")
