"""Every command of the README that runs on the demo runs as written (issue « What ARS
staff hold in their hands »): after `observatoire demo`, each `.venv/bin/observatoire …`
line of the README, except those with placeholders (`<…>`, `[…]`, `…`, `/data/…`), runs
from the folder of the demo and exits 0. The review example is the demo's own: `revue`
lists the cases the generator built to be ambiguous (expected/review.csv), the README's
`decision` lines settle each with the key `revue` printed and the decision the case was
built for, and the next run puts the decided centres on time."""
from __future__ import annotations

import csv
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
PLACEHOLDER = re.compile(r"<[^>]+>|\[--|…|/data/|/srv/")


def readme_commands() -> list[str]:
    """The `.venv/bin/observatoire` commands of the README's sh blocks, continuation lines
    joined, comments removed."""
    commands, in_block, current = [], False, ""
    for line in README.read_text("utf-8").splitlines():
        line = line.strip()  # a block may be indented under a list item
        if line.startswith("```"):
            in_block = line == "```sh"
            continue
        if not in_block:
            continue
        current += line.rstrip("\\").rstrip() + " " if current or line.startswith(".venv/bin/observatoire") else ""
        if current and not line.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return [c for c in commands if not PLACEHOLDER.search(c)]


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(command, comments=True)
    assert argv[0] == ".venv/bin/observatoire"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.pop("OBSERVATOIRE_WAREHOUSE_URL", None)
    return subprocess.run([sys.executable, "-m", "observatoire.cli", *argv[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_readme_has_runnable_examples():
    commands = readme_commands()
    assert any(c.startswith(".venv/bin/observatoire sql") for c in commands)
    assert any(c.startswith(".venv/bin/observatoire revue") for c in commands)
    assert any(c.startswith(".venv/bin/observatoire retours") for c in commands)
    assert any("finess-structures" in c for c in commands)


def _review_keys(revue: str) -> dict[tuple[str, str], str]:
    """(source file, row or "") -> the key `revue` printed for that case."""
    keys, where = {}, None
    for line in revue.splitlines():
        head = re.match(r"^\d{4}  région \S+  (.+?)(?:, ligne (\d+))?$", line)
        if head:
            where = (head.group(1), head.group(2) or "")
        elif line.startswith("    clé : "):
            keys[where] = line.removeprefix("    clé : ")
    return keys


def _decisions(commands: list[str]) -> dict[str, str | None]:
    """The README's `decision` lines: declared key -> ET chosen (None: --aucun)."""
    decided = {}
    for command in commands:
        argv = shlex.split(command, comments=True)
        if argv[1] == "decision":
            key = argv[argv.index("--declare") + 1]
            decided[key] = argv[argv.index("--finess") + 1] if "--finess" in argv else None
    return decided


def test_every_runnable_readme_command_works_on_the_demo(tmp_path):
    demo = _run(".venv/bin/observatoire demo", tmp_path)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "observatoire revue --year 2024" in demo.stdout
    with open(tmp_path / "sample" / "2024" / "expected" / "review.csv", encoding="utf-8", newline="") as handle:
        cases = list(csv.DictReader(handle, delimiter=";"))
    assert len(cases) == 3
    # before any decision: `revue` shows each built case, and every centre it was built around
    revue = _run(".venv/bin/observatoire revue --year 2024", tmp_path)
    assert revue.returncode == 0, revue.stderr
    keys = _review_keys(revue.stdout)
    # the README quotes it as printed
    quoted = [line for line in README.read_text("utf-8").splitlines()
              if re.match(r"^(\d{4}  région |    (déclaré|clé|candidats) : |      [0-9][0-9AB]\d{7}  )", line)]
    assert len(quoted) >= 3 * 4 and not set(quoted) - set(revue.stdout.splitlines())
    assert set(keys) == {(c["source_file"], c["source_row"]) for c in cases}
    for case in cases:
        assert all(et in revue.stdout for et in case["candidates"].split()), case
    # the README decides each case with the key shown and the answer it was built for
    commands = readme_commands()
    assert _decisions(commands) == {keys[(c["source_file"], c["source_row"])]: c["decision"] or None for c in cases}
    for command in commands:
        done = _run(command, tmp_path)
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
        assert done.stdout.strip(), command
    # after the README's rerun: the decided centres are on time, by decision; nothing left to arbitrate
    with sqlite3.connect(tmp_path / "warehouse.db") as connection:
        decided = dict(connection.execute(
            "SELECT finess_et, status || ' ' || reconciliation_method FROM centre_year_status "
            "WHERE campaign_year = 2024 AND finess_et IS NOT NULL AND reconciliation_method = 'decision'").fetchall())
        left = connection.execute("SELECT count(*) FROM reconciliation_review WHERE campaign_year = 2024").fetchone()
    assert decided == {c["decision"]: "on_time decision" for c in cases if c["decision"]}
    assert left == (0,)
