"""Which entries of a submissions folder are read, and in which order: the listing walks
the folder with `os.scandir` and gives every entry that is not a folder walked into
(submissions, and what reading must give an outcome: links broken or looping, linked
folders, files of another kind), except the `reception.csv` manifests, in the order of
`sorted(rglob("*"))` (the former definition, kept here as the reference for the files
it listed). Nothing vanishes: each entry that is not a submission gets its reason."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from observatoire.readers.submission_files import MANIFEST_NAME, SUBMISSION_SUFFIXES, list_submission_files


def former_listing(folder: Path) -> list[Path]:
    return sorted(
        path for path in Path(folder).rglob("*")
        if path.is_file() and path.suffix.lower() in SUBMISSION_SUFFIXES
        and path.name.lower() != MANIFEST_NAME and not path.name.startswith("~$")
    )


def _touch(path: Path, content: bytes = b"x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@pytest.fixture
def messy_folder(tmp_path: Path) -> Path:
    root = tmp_path / "envois"
    for relative in (
        "84/690000001.xlsx", "84/690000002.XLSX", "84/sous-dossier/690000003.xlsm", "84/ancien.xls",
        "84/export.ods", "84/export.csv", "84/Reception.CSV", "84/~$690000001.xlsx", "84/notes.txt",
        "84/sans-extension", "84/.cache.csv", "84/.csv", "84/point.", "84/double.tar.csv",
        "a-c.csv", "a/b.csv", "a b/c.xlsx", "A/z.csv", "é/ç.xlsx", "11/2024 - envoi 1.xlsx",
        "11/2024 - envoi 10.xlsx", "11/2024 - envoi 2.xlsx", "reception.csv",
    ):
        _touch(root / relative)
    (root / "dossier.xlsx").mkdir()  # a folder with a submission's suffix is not a file
    _touch(tmp_path / "ailleurs" / "lie.xlsx")
    _touch(tmp_path / "ailleurs" / "dossier-lie" / "dedans.xlsx")
    os.symlink(tmp_path / "ailleurs" / "lie.xlsx", root / "84" / "lien.xlsx")  # a linked file is listed
    os.symlink(tmp_path / "ailleurs" / "dossier-lie", root / "lien-dossier")  # a linked folder is not entered
    os.symlink(tmp_path / "nulle-part.xlsx", root / "84" / "lien-casse.xlsx")  # a broken link is no file
    os.symlink("boucle.xlsx", root / "84" / "boucle.xlsx")  # links that loop are neither files nor folders
    os.symlink("dossier-boucle", root / "84" / "dossier-boucle")
    return root


def test_listing_keeps_the_former_order_and_adds_what_was_passed_over(messy_folder):
    listed = list_submission_files(messy_folder)
    relative = [p.relative_to(messy_folder).as_posix() for p in listed]
    # what the fixture was built to hold, in Path order (folder by folder, "a/b" before "a-c")
    assert relative == [
        "11/2024 - envoi 1.xlsx", "11/2024 - envoi 10.xlsx", "11/2024 - envoi 2.xlsx",
        "84/.cache.csv", "84/.csv", "84/690000001.xlsx", "84/690000002.XLSX", "84/ancien.xls", "84/boucle.xlsx",
        "84/dossier-boucle", "84/double.tar.csv", "84/export.csv", "84/export.ods", "84/lien-casse.xlsx",
        "84/lien.xlsx", "84/notes.txt", "84/point.", "84/sans-extension", "84/sous-dossier/690000003.xlsm",
        "84/~$690000001.xlsx", "A/z.csv", "a/b.csv", "a b/c.xlsx", "a-c.csv", "lien-dossier", "é/ç.xlsx",
    ]
    # the submissions the former listing gave are all there, in the same order
    assert [p for p in listed if p in set(former_listing(messy_folder))] == former_listing(messy_folder)


def test_every_entry_not_read_gets_an_outcome_saying_why(messy_folder):
    from observatoire import stages

    outcomes = {o.source_file: o for o in stages.gather(stages.read_files(stages.list_files(messy_folder),
                                                                         messy_folder), messy_folder).outcomes}
    reasons = {name: outcomes[name].reason for name in (
        "84/boucle.xlsx", "84/dossier-boucle", "84/lien-casse.xlsx", "lien-dossier", "84/notes.txt",
        "84/sans-extension", "84/~$690000001.xlsx")}
    assert reasons["84/boucle.xlsx"].startswith("lien symbolique qui boucle")
    assert reasons["84/dossier-boucle"].startswith("lien symbolique qui boucle")
    assert reasons["84/lien-casse.xlsx"].startswith("lien symbolique cassé : sa cible")
    assert "nulle-part.xlsx" in reasons["84/lien-casse.xlsx"]
    assert reasons["lien-dossier"].startswith("lien vers un dossier, non suivi")
    assert reasons["84/notes.txt"].startswith("type de fichier non pris en charge (extension « .txt »)")
    assert reasons["84/sans-extension"].startswith("type de fichier non pris en charge (sans extension)")
    assert reasons["84/~$690000001.xlsx"].startswith("fichier de verrouillage d'Excel")
    assert not any(outcomes[name].readable for name in reasons)
    # a file reached through a link is read like any other (here one byte: not a workbook)
    assert outcomes["84/lien.xlsx"].reason.startswith("ce fichier n'est pas un classeur")


# The listing, reading and gathering of the product, run in a child process that may not
# read every folder: root, whom the tests run as (in CI and here), reads any folder whatever
# its mode through two capabilities, which the child gives up before it starts (from its
# bounding set, so that the program it runs has them neither); another account has no
# such right to give up.
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _PR_CAPBSET_DROP = 1, 2, 24
_LIST_AND_READ = """
import json, sys
from pathlib import Path
from observatoire import stages
root = Path(sys.argv[1])
outcomes = stages.gather(stages.read_files(stages.list_files(root), root), root).outcomes
print(json.dumps([[o.source_file, o.readable, o.reason] for o in outcomes]))
"""


def _without_root_reading_rights() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) a échoué")


def _listed_by_an_account_with_no_reading_rights(root: Path) -> list[tuple]:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _LIST_AND_READ, str(root)], capture_output=True, text=True, timeout=300,
        cwd=Path(__file__).resolve().parents[3],
        preexec_fn=_without_root_reading_rights if os.geteuid() == 0 else None,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [tuple(item) for item in json.loads(done.stdout.splitlines()[-1])]


def test_a_folder_this_account_cannot_list_gets_an_outcome(tmp_path):
    _touch(tmp_path / "ferme" / "690000001.xlsx")
    _touch(tmp_path / "ouvert" / "lisible.txt")
    (tmp_path / "ferme").chmod(0)
    try:
        outcomes = _listed_by_an_account_with_no_reading_rights(tmp_path)
    finally:
        (tmp_path / "ferme").chmod(0o755)
    # the closed folder is one entry, with its reason; the open folder's file is read (refused for its type)
    assert [(name, readable) for name, readable, _ in outcomes] == [("ferme", False), ("ouvert/lisible.txt", False)]
    assert outcomes[0][2].startswith("dossier dont les fichiers ne sont pas lus : droits insuffisants")
    assert outcomes[1][2].startswith("type de fichier non pris en charge (extension « .txt »)")


def test_listing_accepts_a_string_and_an_empty_folder(tmp_path):
    assert list_submission_files(str(tmp_path)) == []
    _touch(tmp_path / "x" / "1.csv")
    assert list_submission_files(str(tmp_path)) == [tmp_path / "x" / "1.csv"]
