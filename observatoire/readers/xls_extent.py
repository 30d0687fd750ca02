"""How far the sheets of a legacy Excel workbook (.xls) reach, read from its structure before
calamine sees it: calamine parses every sheet of a .xls when it opens it, reserving the
cells its DIMENSIONS record announces (a forged one asks for terabytes, and the process
aborts) and building, for each sheet, a dense grid from its first to its last cell (one
value at row 65,536 and column IV costs a gigabyte, one at column 65,000 tens).

A .xls is an OLE2 compound file (a small FAT file system in one file) whose `Workbook`
stream (`Book` before Excel 97) is a sequence of BIFF records. This module reads just
enough of both, with the standard library, never past the file's own bytes, and never
following a chain of sectors longer than the file: the sheets' names and substream
offsets (BOUNDSHEET), then, in each sheet, the DIMENSIONS record and the position of
each cell record calamine turns into a cell (numbers, texts, booleans, errors, formulas).
"""
from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass

_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END_OF_CHAIN, _FREE = 0xFFFFFFFE, 0xFFFFFFFF
_STREAM, _ROOT = 2, 5

# BIFF record types
_BOF, _EOF, _BOUNDSHEET, _SST, _DIMENSIONS = 0x0809, 0x000A, 0x0085, 0x00FC, 0x0200
_MULRK = 0x00BD
# records holding one cell, its row and column first (u16, u16): NUMBER, LABEL, BOOLERR, RK,
# LABELSST, FORMULA (calamine keeps a formula's position even without a value)
_CELLS = frozenset({0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x0006})


class XlsStructureError(Exception):
    """The compound file or its BIFF records are damaged (French, for the file's outcome)."""


@dataclass(frozen=True)
class SheetExtent:
    name: str
    last_row: int  # 1-based row of the last cell calamine keeps, 0 for none
    last_column: int  # 0-based column of the rightmost such cell, -1 for none
    declared_rows: int  # what the DIMENSIONS record announces (calamine reserves rows x columns)
    declared_columns: int


def _u32_array(data: bytes) -> array:
    numbers = array("I")
    numbers.frombytes(data[:len(data) - len(data) % 4])
    if sys.byteorder != "little":
        numbers.byteswap()
    return numbers


class _CompoundFile:
    def __init__(self, raw: bytes) -> None:
        if len(raw) < 512 or not raw.startswith(_SIGNATURE):
            raise XlsStructureError("en-tête OLE2 tronqué")
        self.raw = raw
        shift, mini_shift = struct.unpack_from("<HH", raw, 30)
        if shift not in (9, 12) or mini_shift != 6:
            raise XlsStructureError("taille de secteur invalide")
        self.size = 1 << shift
        self.sectors = max(0, -(-len(raw) // self.size) - 1)  # the header takes the first sector's room
        fat_count, self.directory_start = struct.unpack_from("<II", raw, 44)
        self.mini_cutoff, self.minifat_start, _, difat_start, difat_count = struct.unpack_from("<IIIII", raw, 56)
        fat_sectors = list(_u32_array(raw[76:512]))[:min(fat_count, 109)]
        per_sector = self.size // 4 - 1
        seen = 0
        while len(fat_sectors) < fat_count and difat_start not in (_END_OF_CHAIN, _FREE):
            seen += 1
            if seen > min(difat_count, self.sectors) + 1:
                raise XlsStructureError("table DIFAT qui boucle")
            numbers = _u32_array(self._sector(difat_start))
            fat_sectors += list(numbers[:per_sector])[:fat_count - len(fat_sectors)]
            difat_start = numbers[per_sector]
        if len(fat_sectors) < fat_count or fat_count > self.sectors:
            raise XlsStructureError("table d'allocation (FAT) incomplète")
        self.fat = _u32_array(b"".join(self._sector(s) for s in fat_sectors))

    def _sector(self, number: int) -> bytes:
        if number >= self.sectors:
            raise XlsStructureError(f"secteur {number} hors du fichier")
        start = (number + 1) * self.size
        return self.raw[start:start + self.size]

    def _chain(self, start: int, table: array) -> list[int]:
        chain = []
        while start != _END_OF_CHAIN:
            if start >= len(table) or len(chain) > len(table):
                raise XlsStructureError("chaîne de secteurs invalide ou qui boucle")
            chain.append(start)
            start = table[start]
        return chain

    def _regular(self, start: int) -> bytes:
        return b"".join(self._sector(s) for s in self._chain(start, self.fat))

    def stream(self, names: tuple[str, ...]) -> bytes:
        """The first stream of the root storage named one of `names` (any case)."""
        directory = self._regular(self.directory_start)
        entries = {}
        root = None
        for at in range(0, len(directory) - 127, 128):
            entry = directory[at:at + 128]
            length, kind = struct.unpack_from("<HB", entry, 64)
            start, size = struct.unpack_from("<II", entry, 116)
            name = entry[:max(0, min(length, 64) - 2)].decode("utf-16-le", "replace").lower()
            if kind == _ROOT and root is None:
                root = (start, size)
            elif kind == _STREAM:
                entries.setdefault(name, (start, size))
        found = next((entries[n.lower()] for n in names if n.lower() in entries), None)
        if found is None or root is None:
            raise XlsStructureError("pas de flux « Workbook »")
        start, size = found
        if size < self.mini_cutoff:  # in the mini stream, held by the root entry
            container = self._regular(root[0])
            minifat = _u32_array(self._regular(self.minifat_start)) if self.minifat_start != _END_OF_CHAIN \
                else array("I")
            data = b"".join(container[s * 64:(s + 1) * 64] for s in self._chain(start, minifat))
        else:
            data = self._regular(start)
        if len(data) < size:
            raise XlsStructureError("flux « Workbook » tronqué")
        return data[:size]


def _records(stream: bytes, start: int):
    """(type, data offset, data length) of each record from `start` to its substream's EOF."""
    at, end = start, len(stream)
    unpack = struct.unpack_from
    while at + 4 <= end:
        kind, length = unpack("<HH", stream, at)
        if at + 4 + length > end:
            raise XlsStructureError(f"enregistrement BIFF tronqué à l'octet {at}")
        yield kind, at + 4, length
        if kind == _EOF:
            return
        at += 4 + length


def _sheet_name(stream: bytes, at: int, length: int, biff8: bool) -> str:
    count = stream[at + 6] if length > 6 else 0
    if biff8 and length > 7:
        wide = stream[at + 7] & 1
        text = stream[at + 8:at + 8 + count * (2 if wide else 1)]
        return text.decode("utf-16-le" if wide else "latin-1", "replace")
    return stream[at + 7:at + 7 + count].decode("cp1252", "replace")


def sheet_extents(raw: bytes) -> list[SheetExtent]:
    """The extent of every sheet calamine would parse in the .xls `raw` (XlsStructureError
    when its structure is damaged)."""
    try:
        stream = _CompoundFile(raw).stream(("Workbook", "Book"))
        return _extents(stream)
    except (struct.error, IndexError, ValueError) as exc:
        raise XlsStructureError(f"structure illisible ({type(exc).__name__})") from exc


def _extents(stream: bytes) -> list[SheetExtent]:
    sheets, biff8 = [], True
    for kind, at, length in _records(stream, 0):
        if kind == _BOF and length >= 2:
            biff8 = struct.unpack_from("<H", stream, at)[0] in (0x0600, 0)
        elif kind == _BOUNDSHEET and length >= 6:
            sheets.append((struct.unpack_from("<I", stream, at)[0], _sheet_name(stream, at, length, biff8)))
        elif kind == _SST and length >= 8:
            strings = struct.unpack_from("<i", stream, at + 4)[0]
            if strings < 0 or strings * 3 > len(stream) - at:  # each string takes three bytes at least
                raise XlsStructureError(f"table des chaînes annonçant {strings} chaînes")
    return [_sheet_extent(stream, position, name) for position, name in sheets]


_HEADER = struct.Struct("<HH")


def _sheet_extent(stream: bytes, position: int, name: str) -> SheetExtent:
    """One sheet's substream, record by record up to its EOF (a loop of its own, not
    `_records`: a sheet may hold hundreds of thousands of records)."""
    if position >= len(stream):
        raise XlsStructureError(f"feuille « {name} » placée hors du flux")
    unpack, header, cells, end = struct.unpack_from, _HEADER.unpack_from, _CELLS, len(stream)
    last_row, last_column, rows, columns = -1, -1, 0, 0
    at = position
    while at + 4 <= end:
        kind, length = header(stream, at)
        data, at = at + 4, at + 4 + length
        if at > end:
            raise XlsStructureError(f"enregistrement BIFF tronqué à l'octet {data - 4}")
        if kind in cells and length >= 4:
            row, column = header(stream, data)
        elif kind == _MULRK and length >= 6:
            row, column = unpack("<H", stream, data)[0], unpack("<H", stream, at - 2)[0]
        elif kind == _DIMENSIONS:
            if length >= 14:
                first_row, end_row, first_column, end_column = unpack("<IIHH", stream, data)
            elif length >= 10:
                first_row, end_row, first_column, end_column = unpack("<HHHH", stream, data)
            else:
                continue
            rows, columns = max(rows, end_row - first_row), max(columns, end_column - first_column)
            continue
        elif kind == _EOF:
            break
        else:
            continue
        if row > last_row:
            last_row = row
        if column > last_column:
            last_column = column
    return SheetExtent(name, last_row + 1, last_column, rows, columns)
