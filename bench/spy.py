"""Optional sampling profiles of the server process during a figure (``python -m bench --spy``).

``py-spy record`` (a bench-only tool, installed by ``make bench``) samples the server process from outside
while one workload runs; the collapsed stacks go to ``bench/results/<run>-profiles/<backend>-<figure>.txt``
with a summary of the frames that hold the most samples (self and inclusive). Figures measured with
``--spy`` are a little perturbed (the sampler takes CPU on the same cores); publish numbers from runs without.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"


class Spy:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.summaries: dict[str, str] = {}
        self.exe = str(PY_SPY) if PY_SPY.exists() else shutil.which("py-spy")

    @contextlib.contextmanager
    def record(self, pid: int, name: str) -> Iterator[None]:
        if self.exe is None:
            yield
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        raw = self.out_dir / f"{name}.collapsed"
        proc = subprocess.Popen(
            [self.exe, "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--output", str(raw),
             "--nonblocking", "--subprocesses"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)
        try:
            yield
        finally:
            proc.send_signal(2)  # SIGINT: py-spy writes its output and exits
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if raw.exists():
                self.summaries[name] = summarize(raw)
                (self.out_dir / f"{name}.txt").write_text(self.summaries[name])


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py:123)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    parts = where.split("/")
    for anchor in ("site-packages", "src", "lib"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + 1 :]
    return f"{name} ({'/'.join(parts[-3:])})"


def summarize(raw: Path, top: int = 25) -> str:
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    lines = [f"{total} samples", "", "self:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)] if total else []
    lines += ["", "inclusive (cityops frames):"]
    ours = [(f, n) for f, n in incl.most_common() if "cityops/" in f][:top]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in ours] if total else []
    return "\n".join(lines) + "\n"
