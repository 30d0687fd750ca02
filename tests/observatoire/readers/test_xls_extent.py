"""A legacy .xls is bounded before calamine opens it, like an .xlsx: calamine parses every
sheet of a .xls at once, reserving what its DIMENSIONS record announces and building a
dense grid up to its last cell, so the rows and columns of every sheet are read from the
file's structure first (`xls_extent`) and a file past the limits is refused with the
reasons an .xlsx gets. The .xls files are written here (tests/support/legacy_xls.py),
a few kB each."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from observatoire.readers import submission_files as sf
from observatoire.readers import xls_extent
from observatoire.readers.pool import read_batch
from observatoire.readers.submission_files import read_submission_file
from tests.support.legacy_xls import compound_file, xls_bytes, xls_stream
from tests.support.submission_files import export_header, export_row, export_workbook, ods_bytes, \
    ods_workbook_sheets, save, values

ROWS_LIMIT = 20_100  # ReadLimits.export_rows (20,000) + the rows a sheet may have above its header (100)


@pytest.fixture
def limits(monkeypatch):
    monkeypatch.setattr(sf, "LIMITS", sf.ReadLimits(), raising=False)


@pytest.fixture
def calamine_never_called(monkeypatch, limits):
    """What is refused from its structure never reaches calamine (which would abort on some)."""
    def refuse(*args, **kwargs):
        raise AssertionError("calamine a été appelé")
    monkeypatch.setattr(sf.fastexcel, "read_excel", refuse)


def _export_grid(rows: int = 2) -> list[list]:
    header = export_header()
    return [["Export régional des rapports d'activité"], header,
            *[[None if v == "" else v for v in export_row(number=n)] for n in range(1, rows + 1)]]


def _write(tmp_path: Path, name: str, raw: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def _reason(path: Path) -> str | None:
    return read_submission_file(path, path.parent).outcome.reason


def _cells(path: Path):
    content = read_submission_file(path, path.parent)
    assert content.outcome.readable, content.outcome.reason
    return content.cells.select("label", "value").sort("label", "value").rows()


def _in_mini_stream(raw: bytes) -> bool:
    return struct.unpack_from("<I", raw, 60)[0] != 0xFFFFFFFE  # the compound file has a mini FAT


@pytest.mark.parametrize("rows", [2, 300])
def test_an_export_xls_is_read_like_the_same_export_in_xlsx(tmp_path, limits, rows):
    grid = _export_grid(rows)
    xls = _write(tmp_path, "export.xls", xls_bytes({"Export ARS": grid}))
    xlsx = save(export_workbook(grid[1], grid[2:]), tmp_path / "export.xlsx")
    outcome = read_submission_file(xls, tmp_path).outcome
    assert (outcome.format, outcome.container, outcome.rows_in) == ("xls", "export_tableur", rows)
    assert _cells(xls) == _cells(xlsx)


def test_a_centre_workbook_xls_is_read_like_the_same_sheets_in_ods(tmp_path, limits):
    sheets = ods_workbook_sheets(values())
    xls = _write(tmp_path, "centre.xls", xls_bytes(sheets))
    ods = _write(tmp_path, "centre.ods", ods_bytes(sheets))
    content = read_submission_file(xls, tmp_path)
    rows_in_ods = read_submission_file(ods, tmp_path).outcome.rows_in
    assert (content.outcome.container, content.outcome.rows_in) == ("classeur", rows_in_ods)
    assert _cells(xls) == _cells(ods)
    assert content.personnel.height == len(sheets["Personnel"]) - 1


def test_one_value_past_the_row_limit_is_refused_before_calamine(tmp_path, calamine_never_called):
    raw = xls_bytes({"Export ARS": _export_grid()}, extra_cells={"Export ARS": [(30_000, 0, "x")]})
    assert _reason(_write(tmp_path, "creux.xls", raw)) == (
        "fichier refusé : la feuille « Export ARS » a des valeurs jusqu'à la ligne 30 001 (limite 20 100 lignes par "
        "feuille) ; un export régional fait quelques milliers de lignes : supprimer les lignes en trop (ou découper "
        "l'export) et le renvoyer")


def test_the_row_limit_is_the_one_an_xlsx_gets(tmp_path, limits):
    at_limit = xls_bytes({"Export ARS": _export_grid()}, extra_cells={"Export ARS": [(ROWS_LIMIT - 1, 0, "x")]})
    past = xls_bytes({"Export ARS": _export_grid()}, extra_cells={"Export ARS": [(ROWS_LIMIT, 0, "x")]})
    assert "a des valeurs jusqu'à" not in (_reason(_write(tmp_path, "a.xls", at_limit)) or "")
    assert "a des valeurs jusqu'à la ligne 20 101 " in _reason(_write(tmp_path, "b.xls", past))


def test_one_value_past_the_column_limit_is_refused_before_calamine(tmp_path, calamine_never_called):
    raw = xls_bytes({"Export ARS": _export_grid()}, extra_cells={"Export ARS": [(5, 65_000, 1)]})
    assert _reason(_write(tmp_path, "large.xls", raw)).startswith(
        "fichier refusé : la feuille « Export ARS » a des valeurs au-delà de la colonne GR (limite 200 colonnes)")


def test_a_far_value_in_another_sheet_is_refused_too(tmp_path, calamine_never_called):
    raw = xls_bytes({"Export ARS": _export_grid(), "Listes": [["médical"]]},
                    extra_cells={"Listes": [(65_535, 10, 1)]})
    assert _reason(_write(tmp_path, "listes.xls", raw)).startswith(
        "fichier refusé : la feuille « Listes » a des valeurs jusqu'à la ligne 65 536 ")


def test_dimensions_that_lie_are_refused_before_calamine_reserves_them(tmp_path, calamine_never_called):
    raw = xls_bytes({"Export ARS": _export_grid()}, dimensions={"Export ARS": (4_000_000_000, 256)})
    assert _reason(_write(tmp_path, "dimensions.xls", raw)).startswith(
        "fichier refusé : la feuille « Export ARS » annonce 4 000 000 000 lignes sur 256 colonnes (enregistrement "
        "DIMENSIONS du .xls), au-delà de la limite de 20 100 lignes et 200 colonnes par feuille")


def test_dimensions_of_a_sheet_formatted_a_little_further_are_accepted(tmp_path, limits):
    raw = xls_bytes({"Export ARS": _export_grid()}, dimensions={"Export ARS": (ROWS_LIMIT, 200)})
    assert read_submission_file(_write(tmp_path, "mis_en_forme.xls", raw), tmp_path).outcome.readable


def _sst_claiming(count: int) -> bytes:
    stream = xls_stream({"S": [(0, 0, "Année"), (0, 1, "x")]})
    at = stream.index(struct.pack("<H", 0x00FC))
    stream = stream[:at + 8] + struct.pack("<i", count) + stream[at + 12:]
    return compound_file(stream)


@pytest.mark.parametrize("raw, detail", [
    (_sst_claiming(2_000_000_000), "table des chaînes annonçant 2000000000 chaînes"),
    (compound_file(xls_stream({"S": [(0, 0, 1)]}))[:600], "hors du fichier"),
    (compound_file(xls_stream({"S": [(r, 0, r) for r in range(400)]}))[:3000], "hors du fichier"),
], ids=["sst", "truncated-mini", "truncated"])
def test_a_damaged_structure_is_refused_as_a_damaged_xls(tmp_path, calamine_never_called, raw, detail):
    reason = _reason(_write(tmp_path, "casse.xls", raw))
    assert reason.startswith("ancien format .xls illisible ou corrompu (") and detail in reason, reason


def test_a_sector_chain_that_loops_is_refused(tmp_path, calamine_never_called):
    raw = bytearray(compound_file(xls_stream({"S": [(r, 0, r) for r in range(400)]})))
    fat_at = 512  # the FAT is sector 0; the directory is sector 1 and the stream starts at sector 2
    struct.pack_into("<I", raw, fat_at + 4 * 3, 2)  # sector 3 leads back to sector 2
    reason = _reason(_write(tmp_path, "boucle.xls", bytes(raw)))
    assert reason.startswith("ancien format .xls illisible ou corrompu (chaîne de secteurs invalide ou qui boucle)")


def test_extents_are_read_from_the_records(tmp_path):
    raw = xls_bytes({"A": [["x", 1], [None, 2]], "B": []}, dimensions={"B": (10, 3)},
                    extra_cells={"B": [(7, 4, "y")]})
    assert _in_mini_stream(raw)  # a stream under 4 kB: in 64-byte mini sectors
    assert xls_extent.sheet_extents(raw) == [
        xls_extent.SheetExtent("A", last_row=2, last_column=1, declared_rows=2, declared_columns=2),
        xls_extent.SheetExtent("B", last_row=8, last_column=4, declared_rows=10, declared_columns=3),
    ]


@pytest.mark.parametrize("layout", [
    {},  # 512-byte sectors, the stream in the mini stream (under 4 kB)
    {"padding_kb": 8},  # 512-byte sectors, the stream in sectors
    {"padding_kb": 7_300},  # over 7 MB: more than the 109 FAT sectors the header lists, the others in DIFAT sectors
    {"sector_size": 4096},  # version 4: 4,096-byte sectors
    {"name": "Book"},  # the stream's name before Excel 97
], ids=["mini", "sectors", "difat", "v4", "book"])
def test_the_compound_file_is_read_whatever_its_layout(layout):
    import fastexcel

    stream_options = {"padding_kb": layout.pop("padding_kb", 0)}
    raw = compound_file(xls_stream({"S": [(0, 0, "titre"), (1, 0, 1), (4, 2, 5)]}, **stream_options), **layout)
    difat_sectors = struct.unpack_from("<I", raw, 72)[0]
    assert (difat_sectors > 0) == (stream_options["padding_kb"] > 7_000)
    assert xls_extent.sheet_extents(raw) == [
        xls_extent.SheetExtent("S", last_row=5, last_column=2, declared_rows=5, declared_columns=3)]
    sheet = fastexcel.read_excel(raw).load_sheet("S", header_row=None)  # what calamine finds there
    assert (sheet.height, sheet.width) == (5, 3)


def test_in_a_reader_process_the_refused_xls_costs_its_file_alone(tmp_path):
    """Through the reader processes, as a campaign reads: the file whose DIMENSIONS lie made
    calamine abort its process; it is now refused, and the good .xls beside it read."""
    from observatoire import stages

    _write(tmp_path, "a_bon.xls", xls_bytes({"Export ARS": _export_grid()}))
    _write(tmp_path, "b_dimensions.xls",
           xls_bytes({"Export ARS": _export_grid()}, dimensions={"Export ARS": (4_000_000_000, 256)}))
    _write(tmp_path, "c_loin.xls", xls_bytes({"Export ARS": _export_grid()},
                                              extra_cells={"Export ARS": [(65_535, 10, 1)]}))
    batches = stages.read_files(stages.list_files(tmp_path), tmp_path)
    outcomes = {o.source_file: o for batch in batches for o in batch.outcomes}
    assert outcomes["a_bon.xls"].readable and outcomes["a_bon.xls"].rows_in == 2
    assert outcomes["a_bon.xls"].submissions == len(read_batch([tmp_path / "a_bon.xls"], tmp_path).cells
                                                    .get_column("submission_key").unique())
    assert outcomes["b_dimensions.xls"].reason.startswith("fichier refusé : la feuille « Export ARS » annonce")
    assert outcomes["c_loin.xls"].reason.startswith(
        "fichier refusé : la feuille « Export ARS » a des valeurs jusqu'à la ligne 65 536 ")
