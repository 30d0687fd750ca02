"""Whatever a reader does on one file (raise a BaseException, panic, segfault, abort, exit,
sleep or loop for ever, allocate without end) costs that file alone: it gets an outcome
saying what happened and what to send instead, and every other file is read exactly as
if it were absent. The misbehaving readers are real code run in the real reader
processes (tests/support/fake_readers.py, plugged in by OBSERVATOIRE_EXTRA_READERS)."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from datasets.national import cached_national
from observatoire import stages
from observatoire.readers import submission_files as sf
from observatoire.readers.pool import ReaderPool

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

BAD = {
    "panique.essai": b"panique", "baseexception.essai": b"baseexception", "segfault.essai": b"segfault",
    "abort.essai": b"abort", "sortie.essai": b"sortie", "dort.essai": b"dort", "boucle.essai": b"boucle",
    "alloue.essai": b"alloue",
}


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    sample = cached_national(tmp_path_factory.mktemp("national"), n_centres=120, file_multiplier=1,
                             finess_lines=2000)
    root = tmp_path_factory.mktemp("envois")
    for path in stages.list_files(sample.submissions_dir)[:24]:
        target = root / path.relative_to(sample.submissions_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return root


@pytest.fixture
def fake_readers(monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_EXTRA_READERS", "tests.support.fake_readers")
    monkeypatch.setattr(sf, "EXTRA_READERS", {}, raising=False)
    sf._load_extra_readers()


def _read(root: Path, workers: int, batches: int = 3):
    files = stages.list_files(root)
    size = -(-len(files) // batches)
    with ReaderPool(workers, sf.ReadLimits(seconds_per_file=3, memory_mb=300)) as pool:
        return stages.gather(pool.map([files[i:i + size] for i in range(0, len(files), size)], root), root)


def _good_part(received, names):
    outcomes = [o.__dict__ for o in received.outcomes if o.source_file in names]
    return outcomes, received.cells.filter(received.cells["source_file"].is_in(names)), \
        received.personnel.filter(received.personnel["source_file"].is_in(names))


@pytest.mark.parametrize("workers", [2, 1])
def test_each_bad_reader_costs_its_own_file_alone(good_files, tmp_path, fake_readers, workers):
    alone = _read(good_files, workers)
    names = {o.source_file for o in alone.outcomes}
    assert sum(o.readable for o in alone.outcomes) >= 20
    root = tmp_path / "envois"
    shutil.copytree(good_files, root)
    # the bad files among the good ones, at the start, in the middle and at the end of batches
    folders = sorted({p.parent for p in root.rglob("*") if p.is_file()})
    for index, (name, content) in enumerate(BAD.items()):
        (folders[index % len(folders)] / name).write_bytes(content + b" " + name.encode())
    started = time.monotonic()
    beside = _read(root, workers)
    elapsed = time.monotonic() - started
    # the good files' outcomes, cells and personnel rows are what they are without the bad ones
    expected, got = _good_part(alone, names), _good_part(beside, names)
    assert got[0] == expected[0]
    assert got[1].equals(expected[1]) and got[2].equals(expected[2])
    bad = {o.source_file.rsplit("/", 1)[-1]: o for o in beside.outcomes if o.source_file not in names}
    assert sorted(bad) == sorted(BAD)
    assert not any(o.readable for o in bad.values())
    assert all(o.sha256 and o.size_bytes for o in bad.values())
    reasons = {name: o.reason for name, o in bad.items()}
    assert reasons["panique.essai"].startswith("le lecteur de tableur a échoué sur ce fichier (PanicException : "
                                               "range start index 4")
    assert reasons["baseexception.essai"].startswith("le lecteur de tableur a échoué sur ce fichier (_ReaderGaveUp")
    assert "(signal SIGSEGV)" in reasons["segfault.essai"]
    assert "(signal SIGABRT)" in reasons["abort.essai"]
    assert "(code de sortie 0)" in reasons["sortie.essai"]
    assert reasons["dort.essai"].startswith("lecture arrêtée au bout de 3 s (limite de temps par fichier)")
    assert reasons["boucle.essai"].startswith("lecture arrêtée au bout de 3 s (limite de temps par fichier)")
    assert "(mémoire épuisée)" in reasons["alloue.essai"] and "300 Mo" in reasons["alloue.essai"]
    assert all("renvoyer" in reason for reason in reasons.values())
    # the two files that hang cost their time limit each; each crash costs a new reader
    # process (twice: the file is read again alone), about a second on a loaded machine
    assert elapsed < 2 * 3 + 10 * 5, elapsed


def test_in_process_reading_survives_a_reader_that_raises_a_base_exception(good_files, tmp_path, fake_readers):
    from observatoire.readers.pool import read_batch

    (tmp_path / "panique.essai").write_bytes(b"panique")
    (tmp_path / "baseexception.essai").write_bytes(b"baseexception")
    batch = read_batch(sorted(tmp_path.iterdir()), tmp_path)
    assert [o.readable for o in batch.outcomes] == [False, False]
    assert all(o.reason.startswith("le lecteur de tableur a échoué") for o in batch.outcomes)


def test_a_campaign_with_bad_files_beside_exits_0_and_loads_exactly_the_same(tmp_path):
    """As a user runs it: `observatoire run` in its own process, on the sample campaign with
    two good files renamed as Windows and a script name them (bytes that are not UTF-8, a
    newline), once as is and once with misbehaving files beside: exit 0 both times, the same
    statuses and submissions, and an outcome for each bad file."""
    import sqlite3
    import subprocess
    import sys

    from observatoire.sample import generate_sample
    from tests.support.workbook_xml import cell, export_rows, write_xlsx

    sample = generate_sample(tmp_path / "sample")
    paths = sample.campaigns[2024]
    clean, dirty = tmp_path / "propre", tmp_path / "avec-mauvais"
    shutil.copytree(paths.submissions_dir, clean)
    workbooks = sorted(p for p in clean.rglob("*.xlsx") if p.stat().st_size > 3000)
    os.rename(workbooks[0], os.path.join(os.fsencode(workbooks[0].parent), b"rapport activit\xe9 2024.xlsx"))
    os.rename(workbooks[1], workbooks[1].parent / "envoi\nFichiers lus : 0 ; illisibles : 0.xlsx")
    shutil.copytree(clean, dirty, symlinks=True)
    bad = dirty / "zz-mauvais"
    bad.mkdir()
    for name in ("panique", "segfault", "dort", "alloue"):
        (bad / f"{name}.essai").write_bytes(name.encode())
    write_xlsx(bad / "creux.xlsx", [*export_rows(2), '<row r="1000000">' + cell("A1000000", "x") + "</row>"])
    (bad / "melange.csv").write_bytes("finess_et;raison_sociale\r\n".encode() + "1;santé\r\n".encode()
                                      + "2;santé\r\n".encode("cp1252"))
    os.symlink("boucle.xlsx", bad / "boucle.xlsx")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_LOGGING")},
           "OBSERVATOIRE_EXTRA_READERS": "tests.support.fake_readers", "OBSERVATOIRE_READ_SECONDS_PER_FILE": "3",
           "OBSERVATOIRE_READ_MEMORY_MB": "300", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[3]), os.environ.get("PYTHONPATH", "")])}
    results = {}
    for label, folder in (("propre", clean), ("mauvais", dirty)):
        db = tmp_path / f"{label}.db"
        args = ["run", "--year", "2024", "--submissions", str(folder), "--calendar", str(paths.calendar),
                "--warehouse", f"sqlite:///{db}", "--output-dir", str(tmp_path / label / "{annee}"), "--region", "84"]
        for extract in sample.extracts:
            args += ["--finess", str(extract)]
        done = subprocess.run([sys.executable, "-m", "observatoire.cli", *args], capture_output=True, text=True,
                              env=env, timeout=600, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        with sqlite3.connect(db) as connection:
            results[label] = {
                "statuses": connection.execute(
                    "SELECT finess_et, status, days_late, source_file FROM centre_year_status ORDER BY status_id"
                ).fetchall(),
                "submissions": connection.execute(
                    "SELECT source_file, source_row, is_valid, n_errors FROM submission ORDER BY submission_id"
                ).fetchall(),
                "outcomes": dict(connection.execute("SELECT source_file, reason FROM file_outcome").fetchall()),
            }
        results[label]["printed"] = done.stdout
    assert results["mauvais"]["statuses"] == results["propre"]["statuses"]
    assert results["mauvais"]["submissions"] == results["propre"]["submissions"]
    loaded = {row[0] for row in results["propre"]["submissions"]}
    assert any(name.endswith("rapport activit\\xe9 2024.xlsx") for name in loaded)
    assert any(name.endswith("envoi\\nFichiers lus : 0 ; illisibles : 0.xlsx") for name in loaded)
    reasons = {k.split("/", 1)[1]: v for k, v in results["mauvais"]["outcomes"].items() if k.startswith("zz-mauvais/")}
    assert sorted(reasons) == ["alloue.essai", "boucle.xlsx", "creux.xlsx", "dort.essai", "melange.csv",
                               "panique.essai", "segfault.essai"]
    assert all(reasons.values())
    for label in results:  # a name never forges a line of the summary
        assert sum(line.startswith("Fichiers lus") for line in results[label]["printed"].splitlines()) == 1
