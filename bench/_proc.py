"""Run a command and sample the memory of it and its children: peak resident set per process and in total."""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from typing import Optional

import psutil


@dataclass
class Run:
    seconds: float
    returncode: int
    peak_total_mib: float  # the largest sum of RSS over the process tree at one sample
    peak_main_mib: float
    peak_child_mib: float  # the largest RSS any one child reached
    children: int  # how many child processes were seen
    stderr: str = ""
    stdout_bytes: int = 0
    per_pid: dict = field(default_factory=dict)


def run_timed(cmd: list[str], cwd: Optional[str] = None, env: Optional[dict] = None,
              stdout_path: Optional[str] = None) -> Run:
    """The wall time of a command alone: no sampler competing with it for the cores (memory figures: 0)."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - t0
    if stdout_path:
        out.close()
    return Run(seconds=seconds, returncode=p.returncode, peak_total_mib=0.0, peak_main_mib=0.0, peak_child_mib=0.0,
               children=0, stderr=p.stderr.decode("utf-8", "replace"))


def run_sampled(cmd: list[str], cwd: Optional[str] = None, env: Optional[dict] = None, interval: float = 0.01,
                stdout_path: Optional[str] = None) -> Run:
    """Run a command and sample its process tree's memory every `interval` s. The sampler takes CPU time of its
    own (psutil reads /proc for every process 100 times a second): time with run_timed, not with this."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE)
    main = psutil.Process(p.pid)
    peaks: dict[int, float] = {}
    peak_total = 0.0
    while p.poll() is None:
        total = 0.0
        try:
            procs = [main] + main.children(recursive=True)
        except psutil.NoSuchProcess:
            break
        for proc in procs:
            try:
                rss = proc.memory_info().rss / 2**20
            except psutil.Error:
                continue
            peaks[proc.pid] = max(peaks.get(proc.pid, 0.0), rss)
            total += rss
        peak_total = max(peak_total, total)
        time.sleep(interval)
    err = p.stderr.read().decode("utf-8", "replace")
    p.wait()
    seconds = time.perf_counter() - t0
    if stdout_path:
        out.close()
    kids = {pid: v for pid, v in peaks.items() if pid != p.pid}
    return Run(seconds=seconds, returncode=p.returncode, peak_total_mib=peak_total,
               peak_main_mib=peaks.get(p.pid, 0.0), peak_child_mib=max(kids.values(), default=0.0),
               children=len(kids), stderr=err, per_pid=peaks)
