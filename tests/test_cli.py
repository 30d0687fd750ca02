"""The `observatoire` command's contract (interfaces.md): exit 0 when the campaign was
consolidated even with bad submissions, non-zero with one clear French line on stderr
when it could not be."""
import os
import sqlite3
import subprocess
import sys

import pytest

from observatoire.cli import main
from observatoire.sample import generate_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("cli") / "sample")


def _args(sample, year, db, out, finess=None):
    paths = sample.campaigns[year]
    args = ["run", "--year", str(year), "--submissions", str(paths.submissions_dir), "--calendar", str(paths.calendar),
            "--warehouse", f"sqlite:///{db}", "--output-dir", str(out / "{annee}"), "--region", "84"]
    for extract in finess or sample.extracts:
        args += ["--finess", str(extract)]
    return args


def test_run_exits_0_with_bad_files_and_writes_workbooks(sample, prefect_harness, tmp_path, capsys):
    assert main(_args(sample, 2024, tmp_path / "w.db", tmp_path)) == 0
    printed = capsys.readouterr().out
    assert "Campagne 2024" in printed and "illisibles" in printed
    with sqlite3.connect(tmp_path / "w.db") as connection:
        regions = {r for (r,) in connection.execute("SELECT DISTINCT region_code FROM centre_year_status")}
    assert regions == {"84"}
    written = sorted(p.name for p in (tmp_path / "2024").iterdir())
    assert written == ["campagne-2024-r84-retours.xlsx", "relance_2024_region_84.xlsx"]


@pytest.mark.parametrize("case", ["finess", "warehouse", "region"])
def test_run_fails_with_one_french_line(sample, tmp_path, case):
    """As a user runs it: a separate process, with the command's own logging settings."""
    args = _args(sample, 2024, tmp_path / "w.db", tmp_path)
    if case == "finess":
        args = _args(sample, 2024, tmp_path / "w.db", tmp_path, finess=[tmp_path / "absent.csv"])
    elif case == "warehouse":
        args[args.index("--warehouse") + 1] = "postgresql+psycopg://postgres@127.0.0.1:1/absent"
    else:
        args[args.index("--region") + 1] = "8"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_LOGGING")}
    done = subprocess.run([sys.executable, "-m", "observatoire.cli", *args], capture_output=True, text=True,
                          env=env, timeout=180, cwd=tmp_path)
    assert done.returncode == 2
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("observatoire : "), done.stderr[-2000:]
    expected = {"finess": "Extrait FINESS introuvable", "warehouse": "Entrepôt injoignable",
                "region": "code région COG attendu"}[case]
    assert expected in err[0]
