"""Every command of the README that runs on the demo runs as written (issue « What ARS
staff hold in their hands »): after `observatoire demo`, each `.venv/bin/observatoire …`
line of the README, except those with placeholders (`<…>`, `[…]`, `…`, `/data/…`), runs
from the folder of the demo and exits 0."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parent.parent / "README.md"
PLACEHOLDER = re.compile(r"<[^>]+>|\[--|…|/data/|/srv/")


def readme_commands() -> list[str]:
    """The `.venv/bin/observatoire` commands of the README's sh blocks, continuation lines
    joined, comments removed."""
    commands, in_block, current = [], False, ""
    for line in README.read_text("utf-8").splitlines():
        if line.startswith("```"):
            in_block = line.strip() == "```sh"
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
    assert any("finess-structures" in c for c in commands)


def test_every_runnable_readme_command_works_on_the_demo(tmp_path):
    demo = _run(".venv/bin/observatoire demo", tmp_path)
    assert demo.returncode == 0, demo.stderr[-3000:]
    for command in readme_commands():
        done = _run(command, tmp_path)
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
        assert done.stdout.strip(), command
