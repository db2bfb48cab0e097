"""Sample a server worker with py-spy while wrk drives it, and summarise the stacks.

py-spy (``pip install py-spy``) attaches to a running process without changing it;
``--nonblocking`` keeps the sampled worker from pausing. The summary lists the
functions that hold the most samples, inclusive (a function counts once per sample
it is on the stack of), which is what points at the part of a request to remove.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

BIN = Path(sys.executable).parent


def py_spy() -> str | None:
    """Return the py-spy executable, if installed."""
    local = BIN / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """Start sampling ``pid`` for ``seconds`` into ``out`` (collapsed stacks)."""
    tool = py_spy()
    if tool is None:
        print("py-spy is not installed; skipping the profile", file=sys.stderr)
        return None
    command = [tool, "record", "--pid", str(pid), "--duration", str(int(seconds))]
    # --gil: only the thread holding the GIL, so waits are not counted as work
    command += ["--rate", "250", "--format", "raw", "--nonblocking", "--gil"]
    command += ["--output", str(out)]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _frame_name(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    module = where.split(":")[0].rsplit("/", 1)[-1]
    return f"{name} ({module})" if module else name


def summarise(
    collapsed: Path, top: int = 30, ceiling: float = 90.0
) -> list[tuple[str, float]]:
    """Return the ``top`` functions by inclusive share of samples.

    Frames on more than ``ceiling`` percent of the samples (the server's own loop,
    the WSGI plumbing every request goes through) are left out: they say nothing.
    """
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        for name in {_frame_name(frame) for frame in stack.split(";")}:
            inclusive[name] += count
    if total == 0:
        return []
    shares = [(name, 100 * n / total) for name, n in inclusive.most_common()]
    return [(name, share) for name, share in shares if share <= ceiling][:top]


def self_time(collapsed: Path, top: int = 30) -> list[tuple[str, float]]:
    """Return the ``top`` functions by exclusive share (the leaf of each sample)."""
    leaves: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        leaves[_frame_name(stack.split(";")[-1])] += int(count_text)
        total += int(count_text)
    return [(name, 100 * n / max(1, total)) for name, n in leaves.most_common(top)]


if __name__ == "__main__":
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    print("inclusive:")
    for name, share in summarise(Path(sys.argv[1]), limit):
        print(f"{share:6.1f}%  {name}")
    print("self:")
    for name, share in self_time(Path(sys.argv[1]), limit):
        print(f"{share:6.1f}%  {name}")
