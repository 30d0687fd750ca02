"""What a person reads from the command (issue « What ARS staff hold in their hands »):
argparse's frame and validation messages in French, `--version`, help on every option,
and `observatoire sql`'s formats, row count and truncation notice."""
import csv
import io
import os
import re
import subprocess
import sys

import openpyxl
import pytest

from observatoire import warehouse

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

ENGLISH = re.compile(r"\b(usage|positional arguments|show this help|error|required|invalid|Input should|"
                     r"greater than|argument)\b:?", re.IGNORECASE)

# 250 rows, long texts and one that looks like a formula: more than the screen default (200)
ROWS_SQL = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250) "
            "SELECT i AS numero, 'centre de santé municipal numéro ' || i || ' de la commune de "
            "Villefranche-sur-Saône' AS raison_sociale, CASE WHEN i = 1 THEN '=HYPERLINK(\"http://x\",\"clic\")' "
            "ELSE 'accueil' || i || '@cds.example.fr' END AS email, "
            "'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q' FROM n")


def _command(*args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return subprocess.run([sys.executable, "-m", "observatoire.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("sql") / "w.db"
    engine = warehouse.connect(f"sqlite:///{path}")
    warehouse.migrate(engine)
    engine.dispose()
    return path


@pytest.mark.parametrize("args", [["run", "--year", "abc"], ["run"], ["inconnue"], ["sql"],
                                  ["run", "--year", "2024", "--bidule"]])
def test_argument_errors_are_french(tmp_path, args):
    done = _command(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert "usage : observatoire" in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert " : erreur : " in last
    assert not ENGLISH.search(last.split(" : erreur : ", 1)[1].replace("argument ", "")), last


def test_validation_messages_are_french(tmp_path):
    (tmp_path / "x.csv").write_text("")  # the paths exist: they are checked first
    done = _command("run", "--year", "1990", "--submissions", str(tmp_path), "--finess", str(tmp_path / "x.csv"),
                    cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Input should" not in lines[0] and "greater" not in lines[0]
    assert "2000" in lines[0]


@pytest.mark.parametrize("command", [[], ["run"], ["sql"], ["relance"], ["revue"], ["decision"], ["demo"],
                                     ["sample"]])
def test_help_is_french_and_every_option_explained(tmp_path, command):
    done = _command(*command, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "usage : " in text and "afficher cette aide et quitter" in text
    assert "positional arguments" not in text and "show this help" not in text
    # every option line of the help has a description after it
    for match in re.finditer(r"^  (-[-\w]+)[^\n]*$", text, re.MULTILINE):
        line = match.group(0)
        following = text[match.end():].split("\n", 2)[1] if "\n" in text[match.end():] else ""
        described = len(line.strip().split("  ")) > 1 or following.startswith(" " * 10)
        assert described, f"option sans aide : {line.strip()}"


def test_version(tmp_path):
    done = _command("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert re.fullmatch(r"observatoire \d+\.\d+\.\d+\n", done.stdout)


def test_sql_piped_table_is_full_width_with_count_and_truncation(db, tmp_path):
    done = _command("sql", ROWS_SQL, "--warehouse", f"sqlite:///{db}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.rstrip("\n").splitlines()
    assert lines[-1].startswith("250 lignes (200 affichées")
    # piped: one line per row, no column cut or elided (20 columns, long texts whole)
    assert "numéro 7 de la commune de Villefranche-sur-Saône" in done.stdout
    row = next(line for line in lines if "numéro 7 de" in line)
    assert "accueil7@cds.example.fr" in row and row.count("┆") == 19  # 20 columns on one line
    assert "…" not in done.stdout


def test_sql_csv_writes_every_row(db, tmp_path):
    done = _command("sql", ROWS_SQL, "--format", "csv", "--warehouse", f"sqlite:///{db}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout), delimiter=";"))
    assert len(rows) == 251 and rows[0][:3] == ["numero", "raison_sociale", "email"]
    assert done.stderr.strip() == "250 lignes"


def test_sql_xlsx_needs_output_and_stores_text(db, tmp_path):
    refused = _command("sql", ROWS_SQL, "--format", "xlsx", "--warehouse", f"sqlite:///{db}", cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    out = tmp_path / "r.xlsx"
    done = _command("sql", ROWS_SQL, "--format", "xlsx", "--output", str(out), "--warehouse", f"sqlite:///{db}",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "250 lignes écrites" in done.stderr
    sheet = openpyxl.load_workbook(out).active
    assert sheet.max_row == 251 and sheet.freeze_panes == "A2"
    assert sheet["C2"].data_type == "s" and sheet["C2"].value.startswith("'=HYPERLINK")


def test_a_reader_that_goes_away_stops_the_command_quietly(db):
    # `observatoire sql … | head -1`: the pipe's reader is gone before the rows are written
    child = subprocess.Popen([sys.executable, "-m", "observatoire.cli", "sql", ROWS_SQL, "--warehouse",
                              f"sqlite:///{db}", "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONUTF8": "1"})
    child.stdout.close()
    error = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141
    assert error == ""
