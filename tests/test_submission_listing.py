"""Which files of a submissions folder are submissions, and in which order: the listing
walks the folder with `os.scandir`; it must give what the former definition,
`sorted(rglob("*"))` filtered on suffix and name, gave (kept here as the reference)."""
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


def test_listing_is_the_former_listing(messy_folder):
    listed = list_submission_files(messy_folder)
    assert listed == former_listing(messy_folder)
    relative = [p.relative_to(messy_folder).as_posix() for p in listed]
    # what the fixture was built to hold, in Path order (folder by folder, "a/b" before "a-c")
    assert relative == [
        "11/2024 - envoi 1.xlsx", "11/2024 - envoi 10.xlsx", "11/2024 - envoi 2.xlsx",
        "84/.cache.csv", "84/690000001.xlsx", "84/690000002.XLSX", "84/ancien.xls", "84/double.tar.csv",
        "84/export.csv", "84/export.ods", "84/lien.xlsx", "84/sous-dossier/690000003.xlsm",
        "A/z.csv", "a/b.csv", "a b/c.xlsx", "a-c.csv", "é/ç.xlsx",
    ]


def test_listing_accepts_a_string_and_an_empty_folder(tmp_path):
    assert list_submission_files(str(tmp_path)) == []
    _touch(tmp_path / "x" / "1.csv")
    assert list_submission_files(str(tmp_path)) == [tmp_path / "x" / "1.csv"]
