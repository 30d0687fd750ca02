"""Where does the time go? Summarise a py-spy `--format raw` profile of a benchmark child.

    .venv/bin/py-spy record -r 100 -f raw -o prof.raw -- .venv/bin/python benchmarks/national.py --child '<spec>'
    .venv/bin/python benchmarks/hotspots.py prof.raw [--top 40] [--match observatoire/ transforms/ flows/]

Prints each function's inclusive share (time with the function on the stack) and self
share (time in the function itself) of the samples of the measured process only.
"""
from __future__ import annotations

import argparse
import collections
from pathlib import Path


def summarise(path: Path, top: int, match: list[str]) -> str:
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if frames and frames[0].startswith("process "):  # recorded with --subprocesses
            if "--child" not in frames[0]:  # another process (Prefect's server)
                continue
            frames = frames[1:]
        samples = int(count)
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    lines = [f"{total} échantillons / samples", "", "inclusif / inclusive:"]
    shown = 0
    for frame, samples in inclusive.most_common():
        if match and not any(m in frame for m in match):
            continue
        lines.append(f"  {100 * samples / total:5.1f} %  {frame}")
        shown += 1
        if shown >= top:
            break
    lines += ["", "propre / self:"]
    lines += [f"  {100 * samples / total:5.1f} %  {frame}" for frame, samples in own.most_common(top // 2)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", nargs="*", default=[], help="only frames containing one of these")
    args = parser.parse_args()
    print(summarise(args.raw, args.top, args.match))


if __name__ == "__main__":
    main()
