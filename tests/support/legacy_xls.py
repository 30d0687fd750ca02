"""Legacy Excel workbooks (.xls: BIFF8 records in an OLE2 compound file) written here, byte
by byte, for the tests: no library the project installs writes them. Only what a reader
needs: a globals substream (BOF, CODEPAGE, BOUNDSHEET, SST, EOF) and one substream per sheet
(BOF, DIMENSIONS, NUMBER and LABELSST cells, EOF), in a version 3 compound file with
512-byte sectors. Calamine (fastexcel) reads what this writes; a test can place a cell
anywhere a BIFF8 record can and make the DIMENSIONS record say anything. No CONTINUE
records: the distinct texts of a workbook must hold in one record (64 kB)."""
from __future__ import annotations

import struct

_FREE, _END, _FAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
_MINI_SECTOR = 64
_MINI_CUTOFF = 4096


def _record(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _bof(substream: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, substream, 0x0DBB, 0x07CC, 0, 0x06))


_EOF = _record(0x000A, b"")


def _unicode(text: str) -> bytes:  # XLUnicodeRichExtendedString, UTF-16 (flag 1)
    return struct.pack("<HB", len(text), 1) + text.encode("utf-16-le")


def xls_stream(sheets: dict[str, list[tuple[int, int, object]]],
               dimensions: dict[str, tuple[int, int]] | None = None, padding_kb: int = 0) -> bytes:
    """The Workbook stream of `sheets`: name -> cells (row, column, value), 0-based, a value
    being a number or a text; each sheet's DIMENSIONS says (rows, columns) from its cells
    unless `dimensions` gives them. `padding_kb`: that many kB of drawing records (which
    readers of values skip) in each sheet, to make a big file cheaply."""
    strings = sorted({value for cells in sheets.values() for _, _, value in cells if isinstance(value, str)})
    index = {text: i for i, text in enumerate(strings)}
    sst = _record(0x00FC, struct.pack("<II", len(strings), len(strings)) + b"".join(_unicode(s) for s in strings))
    bodies = []
    for name, cells in sheets.items():
        rows = max((r for r, _, _ in cells), default=-1) + 1
        columns = max((c for _, c, _ in cells), default=-1) + 1
        rows, columns = (dimensions or {}).get(name, (rows, columns))
        records = [_bof(0x0010), _record(0x0200, struct.pack("<IIHHH", 0, rows, 0, columns, 0))]
        for row, column, value in sorted(cells, key=lambda cell: cell[:2]):
            if isinstance(value, str):
                records.append(_record(0x00FD, struct.pack("<HHHI", row, column, 0x0F, index[value])))
            else:
                records.append(_record(0x0203, struct.pack("<HHHd", row, column, 0x0F, float(value))))
        records += [_record(0x00EC, b"\0" * 1024)] * padding_kb
        bodies.append(b"".join(records) + _EOF)

    def globals_(positions: list[int]) -> bytes:
        bound = b"".join(
            _record(0x0085, struct.pack("<IBBBB", position, 0, 0, len(name), 1) + name.encode("utf-16-le"))
            for position, name in zip(positions, sheets))
        return _bof(0x0005) + _record(0x0042, struct.pack("<H", 1200)) + bound + sst + _EOF

    start = len(globals_([0] * len(sheets)))
    positions = []
    for body in bodies:
        positions.append(start)
        start += len(body)
    return globals_(positions) + b"".join(bodies)


def _directory_entry(name: str, kind: int, start: int, size: int, child: int = _FREE) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", _FREE, _FREE, child) + b"\0" * 16 + struct.pack("<I", 0) + b"\0" * 16
            + struct.pack("<III", start, size, 0))


def compound_file(stream: bytes, name: str = "Workbook", sector_size: int = 512) -> bytes:
    """`stream` as the one stream of an OLE2 compound file (in the mini stream when it is
    shorter than 4,096 bytes, as the format wants), with sectors of `sector_size` bytes
    (512: version 3, what Excel writes; 4096: version 4); past 109 sectors of FAT, the
    others are listed in DIFAT sectors (a file over 7 MB with 512-byte sectors)."""
    per = sector_size // 4  # sector numbers per sector
    mini = len(stream) < _MINI_CUTOFF
    if mini:  # the stream in 64-byte mini sectors, held by the root entry's own stream
        mini_count = -(-len(stream) // _MINI_SECTOR)
        container = stream.ljust(mini_count * _MINI_SECTOR, b"\0")
        minifat = [i + 1 for i in range(mini_count - 1)] + [_END]
        minifat_bytes = struct.pack(f"<{len(minifat)}I", *minifat).ljust(sector_size, b"\xff")
        payloads = [minifat_bytes, container]
    else:
        payloads = [stream]
    counts = [-(-len(p) // sector_size) for p in payloads]
    fat_count = difat_count = 1
    while True:
        difat_count = -(-max(0, fat_count - 109) // (per - 1))
        if fat_count * per >= fat_count + difat_count + 1 + sum(counts):
            break
        fat_count += 1
    directory_at = fat_count + difat_count
    fat = [_FAT] * fat_count + [0xFFFFFFFC] * difat_count + [_END]  # then the directory sector
    starts, at = [], directory_at + 1
    for count in counts:
        starts.append(at)
        fat += [at + i + 1 for i in range(count - 1)] + [_END]
        at += count
    fat += [_FREE] * (fat_count * per - len(fat))
    if mini:
        root = _directory_entry("Root Entry", 5, starts[1], len(payloads[1]), child=1)
        entry = _directory_entry(name, 2, 0, len(stream))
    else:
        root = _directory_entry("Root Entry", 5, _END, 0, child=1)
        entry = _directory_entry(name, 2, starts[0], len(stream))
    directory = (root + entry).ljust(sector_size, b"\0")
    listed = list(range(fat_count))
    difat = listed[:109] + [_FREE] * (109 - min(fat_count, 109))
    difat_sectors = b""
    for k in range(difat_count):
        chunk = listed[109 + k * (per - 1):109 + (k + 1) * (per - 1)]
        following = fat_count + k + 1 if k + 1 < difat_count else _END
        difat_sectors += struct.pack(f"<{per}I", *chunk, *[_FREE] * (per - 1 - len(chunk)), following)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x003E, 3 if sector_size == 512 else 4, 0xFFFE,
                            sector_size.bit_length() - 1, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0 if sector_size == 512 else 1, fat_count, directory_at, 0, _MINI_CUTOFF,
                            starts[0] if mini else _END, 1 if mini else 0,
                            fat_count if difat_count else _END, difat_count)
              + struct.pack("<109I", *difat)).ljust(sector_size, b"\0")
    body = struct.pack(f"<{len(fat)}I", *fat) + difat_sectors + directory + b"".join(
        p.ljust(c * sector_size, b"\0") for p, c in zip(payloads, counts))
    return header + body


def xls_bytes(sheets: dict[str, list[list]], dimensions: dict[str, tuple[int, int]] | None = None,
              extra_cells: dict[str, list[tuple[int, int, object]]] | None = None, **compound) -> bytes:
    """A .xls of `sheets` (name -> rows of values, None for an empty cell), with
    `extra_cells` (name -> (row, column, value), 0-based) placed anywhere."""
    cells = {
        name: [(r, c, value) for r, row in enumerate(grid) for c, value in enumerate(row) if value is not None]
        + list((extra_cells or {}).get(name, []))
        for name, grid in sheets.items()
    }
    return compound_file(xls_stream(cells, dimensions), **compound)
