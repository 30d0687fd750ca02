"""What does a FINESS+ "Structures" file say, and of which date is it?

The ANS's daily JSON (finess.md, "What comes next: FINESS+"), plain or gzip-compressed:
`schemaVersion`, `generatedAt` (its Paris date is the snapshot's date), groupings (`gcc`,
`gco`, skipped) and `pmej[]`, each EJ with its ET in `ege[]`. Unlike the extract it lists
closed ET with their `dateFermeture`. The result is the extract reader's frame (same
columns, every field as text, plus `datefermeture` and `etatobjet`) so the rest of the
pipeline does not know which source it came from.

A national file is about 400 MB once inflated: it is read as a stream, never whole. The
`pmej` array is cut into batches of whole elements at the places where the next element
starts (`}, {"<first key of the first element>"`), and each batch (about 1 MB: small enough
to stay in the processor's cache) is decoded by msgspec in place in the buffer, without a
copy, into typed structures that hold only the fields used here: the fields skipped are checked
as JSON but never become Python objects (on the ANS layout that is about twice orjson's
speed and three times the standard library's). A cut is only a guess: `[batch]` decodes
only when the batch ends exactly at an element's end (a cut inside a string or a nested
object leaves it unclosed), and an element that cannot be cut so (the last one, or another
producer's key order) is delimited by a scan of its brackets and strings instead. The
inflating (zlib releases the GIL) and the checksum run in a thread beside the decoding.
"""
from __future__ import annotations

import datetime as dt
import gc
import hashlib
import queue
import re
import threading
import zlib
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Iterator, Optional, Union
from zoneinfo import ZoneInfo

import msgspec
import polars as pl

from observatoire.errors import CampaignError
from observatoire.readers.finess_extract import STRUCTUREET_FIELDS
from transforms.referential import CENTRE_DE_SANTE_LABELS, departement_of_cog_commune

GZIP_MAGIC = b"\x1f\x8b"
KNOWN_SCHEMA_MAJOR = "1"  # "v1.0.0" in the ANS's example and schema
EXTRA_FIELDS = ["datefermeture", "etatobjet"]
_PARIS = ZoneInfo("Europe/Paris")
_RAW_CHUNK = 1 << 16  # compressed bytes read at a time: about 700 KB inflated, mostly in one call
_CHUNK = 1 << 20  # inflated bytes handed over at a time (at most 16 wait in the queue)
_BATCH = 1 << 20  # inflated bytes decoded at a time (a few MB of Python objects at most)
_WS = re.compile(rb"[ \t\r\n]*")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_SCALAR = re.compile(rb'"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false|null')
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|"|[\[\]{}]')  # a lone `"`: a string that goes on past the buffer


# ------------------------------------------------------------------ what is decoded
# Only text, None and these structures: the `pmej` batches are decoded in place in the
# parser's buffer (`_Parser._decode_between_brackets`), so nothing decoded may keep a view
# of its input (no `msgspec.Raw` here).
class _Coded(msgspec.Struct, gc=False):
    code: Optional[str] = None


_CodeOrCoded = Union[str, _Coded, None]  # the example writes "124", the schema {"code": "124", ...}


class _InfoEge(msgspec.Struct, gc=False):
    numFinessEge: str
    nomEgeCourt: Optional[str] = None
    nomEgeLong: Optional[str] = None
    dateOuverture: Optional[str] = None
    dateFermeture: Optional[str] = None
    siret: Optional[str] = None


class _Telecom(msgspec.Struct, gc=False):
    telephone: Optional[str] = None
    telecopie: Optional[str] = None


class _Contact(msgspec.Struct, gc=False):
    telecom: Optional[_Telecom] = None


class _Adresse(msgspec.Struct, gc=False):
    cogCommune: Optional[str] = None
    codePostal: Optional[str] = None
    ligneAcheminement: Optional[str] = None


class _Ege(msgspec.Struct, gc=False):
    informationsGeneralesEGE: _InfoEge
    categorieentiteGeographiqueExercice: _CodeOrCoded = None  # the example's spelling
    categorieEntiteGeographiqueExercice: _CodeOrCoded = None  # the schema's
    etatObjet: _CodeOrCoded = None
    siret: Optional[str] = None  # where the schema puts it (the example: in informationsGeneralesEGE)
    adresse: Optional[list[_Adresse]] = None
    contact: Optional[list[_Contact]] = None  # structures without cycles: gc=False spares the collector


class _InfoPmej(msgspec.Struct, gc=False):
    numFinessPm: Optional[str] = None


class _Pmej(msgspec.Struct, gc=False):
    informationsGeneralesPMEJ: Optional[_InfoPmej] = None  # the example's spelling
    informationsGeneralesPmej: Optional[_InfoPmej] = None  # the schema's
    ege: Optional[list[_Ege]] = None


_PMEJ_BATCH = msgspec.json.Decoder(list[_Pmej])
_PMEJ_ONE = msgspec.json.Decoder(_Pmej)
_SKIP_BATCH = msgspec.json.Decoder(list[msgspec.Raw])
_SKIP_ONE = msgspec.json.Decoder(msgspec.Raw)
_ANY = msgspec.json.Decoder()


@dataclass(frozen=True)
class FinessPlusHeader:
    source_file: str
    sha256: str
    extract_date: dt.date  # generatedAt as a Paris date
    schema_version: str
    generated_at: dt.datetime


@dataclass(frozen=True)
class FinessPlusFile:
    source_file: str
    sha256: str
    extract_date: dt.date
    establishments: pl.DataFrame  # the extract's structureet columns as text, + datefermeture, etatobjet
    schema_version: str = ""


# ------------------------------------------------------------------ sniffing
def is_finess_plus(path: Path) -> bool:
    """True when the file's content (after an optional gzip layer and UTF-8 BOM) starts as
    JSON: a FINESS+ file, whatever its name; False for anything else (an extract)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False  # the extract reader says it is unreadable
    if head.startswith(GZIP_MAGIC):
        return True  # data.gouv compresses FINESS+ only; a gzip of anything else is refused there
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1] in (b"{", b"[")


# ------------------------------------------------------------------ the byte stream
class _Refused(Exception):
    """Internal: why the file is refused (French), turned into one CampaignError line."""


class _Inflated:
    """The file's bytes, inflated when gzip, in chunks, with the SHA-256 of the file as
    stored (unless it is known already); read by a thread so that inflating overlaps
    decoding. At most a few chunks wait."""

    def __init__(self, path: Path, sha256: str | None = None) -> None:
        self.path = Path(path)
        self.sha256 = sha256 or ""
        self._hashing = sha256 is None
        self._queue: queue.Queue = queue.Queue(maxsize=16)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="finess-plus-reader", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        digest = hashlib.sha256() if self._hashing else None
        try:
            with open(self.path, "rb") as handle:
                first = handle.read(_RAW_CHUNK)
                if digest:
                    digest.update(first)
                if not first.startswith(GZIP_MAGIC):
                    chunk = first
                    while chunk:
                        if not self._put(chunk):
                            return
                        chunk = handle.read(_CHUNK)
                        if digest:
                            digest.update(chunk)
                else:
                    self._inflate(handle, first, digest)
            if digest:
                self.sha256 = digest.hexdigest()
            self._put(None)
        except _Refused as exc:
            self._put(exc)
        except (OSError, zlib.error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self._put(_Refused(f"fichier illisible ou compression gzip endommagée ({reason})"))

    def _inflate(self, handle, data: bytes, digest) -> None:
        inflater = zlib.decompressobj(31)
        while True:
            while data:
                out = inflater.decompress(data, _CHUNK)  # bounded, whatever the compression ratio
                data = inflater.unconsumed_tail
                if out and not self._put(out):
                    return
                if inflater.eof:  # a member ends; another may follow (concatenated gzip files)
                    data = inflater.unused_data
                    if data.startswith(GZIP_MAGIC):
                        inflater = zlib.decompressobj(31)
                    elif data.strip(b"\0"):
                        raise _Refused("données inattendues après la fin du flux gzip")
                    else:
                        data = b""
            data = handle.read(_RAW_CHUNK)
            if not data:
                break
            if digest:
                digest.update(data)
        if not inflater.eof:
            raise _Refused("fichier gzip coupé avant la fin (attendu la fin du flux compressé)")

    def chunks(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, _Refused):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class _Parser:
    """The inflated text as a buffer that grows from the stream and forgets what was
    decoded; positions in messages are offsets in the inflated text."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.buf = bytearray()
        self.pos = 0
        self.base = 0  # offset of buf[0] in the inflated text
        self.eof = False
        self.where = "au début du fichier"

    def more(self, wanted: int = 1) -> bool:
        """Append at least `wanted` more bytes when the stream has them, forgetting what is
        before `pos` but its last byte (see `array`); False when nothing was left."""
        if self.eof:
            return False
        added = False
        while wanted > 0:
            chunk = next(self._chunks, None)
            if chunk is None:
                self.eof = True
                break
            if not added and self.pos > 1:
                del self.buf[:self.pos - 1]
                self.base += self.pos - 1
                self.pos = 1
            self.buf += chunk
            wanted -= len(chunk)
            added = True
        return added

    def offset(self, pos: int | None = None) -> int:
        return self.base + (self.pos if pos is None else pos)

    def cut_short(self) -> _Refused:
        return _Refused(f"fichier coupé avant la fin : le JSON s'arrête à l'octet {self.offset(len(self.buf))} "
                        f"{self.where}")

    def malformed(self, expected: str, pos: int | None = None) -> _Refused:
        at = self.pos if pos is None else pos
        seen = self.buf[at:at + 20].decode("utf-8", errors="replace").replace("\n", " ")
        return _Refused(f"JSON mal formé à l'octet {self.offset(at)} {self.where} : attendu {expected}, "
                        f"reçu « {seen} »")

    def peek(self) -> bytes:
        """The next character that is not white space (more is read as needed)."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos:self.pos + 1]
            if not self.more():
                raise self.cut_short()

    def expect(self, char: bytes, expected: str) -> None:
        if self.peek() != char:
            raise self.malformed(expected)
        self.pos += 1

    def scalar(self):
        """The string, number, true, false or null at `pos`, read whole even across chunks."""
        self.peek()
        while True:
            match = _SCALAR.match(self.buf, self.pos)
            if match and match.end() < len(self.buf):
                break
            if len(self.buf) - self.pos > _BATCH or not self.more():
                if match:
                    break
                if self.eof and self.buf[self.pos:self.pos + 1] == b'"':
                    raise self.cut_short()
                raise self.malformed("une valeur JSON")
        try:
            value = _ANY.decode(match.group())
        except msgspec.DecodeError:
            raise self.malformed("une valeur JSON") from None
        self.pos = match.end()
        return value

    def value_end(self) -> int:
        """End of the object or array that starts at `pos`, by a scan of its brackets and
        strings, reading more of the stream as needed."""
        opened: list[bytes] = []
        scanned = self.pos
        while True:
            for match in _TOKEN.finditer(self.buf, scanned):
                token = match.group()
                if token == b'"':  # a string not closed within the buffer: it goes on in the next chunk
                    break
                if token == b"{" or token == b"[":
                    opened.append(b"}" if token == b"{" else b"]")
                elif token == b"}" or token == b"]":
                    if not opened or opened.pop() != token:
                        raise self.malformed("des accolades et crochets qui se referment dans l'ordre", match.start())
                    if not opened:
                        return match.end()
                scanned = match.end()
            else:
                scanned = len(self.buf)
            base = self.base
            if not self.more():
                raise self.cut_short()
            scanned -= self.base - base

    def array(self, batch_decoder, one_decoder, label: str, borrow: bool = True) -> Iterator[list]:
        """The elements of the array that starts at `pos`, by batches (see the module's doc).
        `borrow`: the batches are decoded in place in the buffer (the decoder keeps no view
        of its input: not for `msgspec.Raw`)."""
        self.expect(b"[", f"le tableau {label}")
        index, key, single_until = 0, None, -1
        while True:
            self.where = f"dans le tableau {label} (élément {index})"
            if self.peek() == b"]":
                self.pos += 1
                return
            if index:
                if self.peek() != b",":
                    raise self.malformed(f"« , » ou « ] » après l'élément {index - 1} du tableau {label}")
                self.pos += 1
                self.peek()
            if key is not None and self.offset() >= single_until:
                if len(self.buf) - self.pos < _BATCH:
                    self.more(_BATCH - (len(self.buf) - self.pos))
                cut = self._last_boundary(key)
                if cut is not None:
                    try:
                        elements = self._decode_between_brackets(batch_decoder, cut, borrow)
                    except msgspec.ValidationError as exc:
                        raise self._invalid(exc, label, index) from None
                    except msgspec.DecodeError:  # not an element's end after all: one by one up to there
                        single_until = self.offset(cut)
                    else:
                        yield elements
                        index += len(elements)
                        self.pos = cut
                        continue
            start = self.pos
            if self.buf[start:start + 1] not in (b"{", b"["):
                yield [self.scalar()]
                index += 1
                continue
            end = self.value_end()
            start = self.pos  # the buffer may have dropped what came before
            try:
                element = one_decoder.decode(self.buf[start:end])
            except msgspec.ValidationError as exc:
                raise self._invalid(exc, label, index, single=True) from None
            except msgspec.DecodeError as exc:
                raise self._malformed_element(exc, start) from None
            if key is None:
                first = re.match(rb"\{[ \t\r\n]*(" + _STRING.pattern + rb")[ \t\r\n]*:", self.buf[start:end])
                key = first.group(1) if first else None
            self.pos = end
            yield [element]
            index += 1

    def _decode_between_brackets(self, decoder, cut: int, borrow: bool):
        """Decode `buf[pos:cut]` (whole elements, commas between them) as a JSON array: in
        place, the byte before `pos` (already read: the `[` or `,` before the first element,
        or white space) and the one at `cut` (the `,` or white space after the last, read
        next) replaced by `[` and `]` for the time of the decoding; else from a copy."""
        buf, start = self.buf, self.pos - 1
        if not borrow or start < 0:
            return decoder.decode(b"".join((b"[", memoryview(buf)[self.pos:cut], b"]")))
        before, after = buf[start], buf[cut]
        buf[start], buf[cut] = 0x5B, 0x5D  # [ ]
        try:
            with memoryview(buf) as view, view[start:cut + 1] as elements:
                return decoder.decode(elements)
        finally:
            buf[start], buf[cut] = before, after

    def _malformed_element(self, exc: msgspec.DecodeError, start: int) -> _Refused:
        """Where msgspec stopped in the element (its `(byte N)`), and why when it is the encoding."""
        byte = re.search(r"\(byte (\d+)\)", str(exc))
        at = start + int(byte.group(1)) if byte else start
        if "utf-8" in str(exc).lower():
            return _Refused(f"texte qui n'est pas en UTF-8 à l'octet {self.offset(at)} {self.where}")
        return self.malformed("du JSON valide", at)

    def _last_boundary(self, key: bytes) -> int | None:
        """Just past the `}` of the last element in the buffer that another one follows,
        found as `}`, `,`, `{` and the first element's first key: a guess, checked by the
        decoding (None when there is none)."""
        buf, end = self.buf, len(self.buf)
        while True:
            at = buf.rfind(key, self.pos, end)
            if at <= self.pos:
                return None
            end = at
            j = at - 1
            for expected in (b"{", b",", b"}"):
                while j > self.pos and buf[j] in b" \t\r\n":
                    j -= 1
                if buf[j:j + 1] != expected:
                    break
                j -= 1
            else:
                colon = _WS.match(buf, at + len(key)).end()
                if j + 1 >= self.pos and buf[colon:colon + 1] == b":":
                    return j + 2

    def _invalid(self, exc: msgspec.ValidationError, label: str, first: int, single: bool = False) -> _Refused:
        """One French line from msgspec's `Expected ... - at `$[3].ege[0]...``."""
        message = str(exc)
        what, _, path = message.partition(" - at `$")
        path = path.rstrip("`")
        match = re.match(r"\[(\d+)\](.*)", path)
        where = f"{label}[{first}]{path}" if single or not match else f"{label}[{first + int(match.group(1))}]{match.group(2)}"
        missing = re.match(r"Object missing required field `(\w+)`", what)
        typed = re.match(r"Expected `([\w |]+)`, got `(\w+)`", what)
        if missing:
            detail = f"champ {missing.group(1)} absent"
        elif typed:
            expected = " ou ".join(_JSON_KIND.get(kind.strip(), kind.strip()) for kind in typed.group(1).split("|"))
            detail = f"attendu {expected}, reçu {_JSON_KIND.get(typed.group(2), typed.group(2))}"
        else:
            detail = f"forme inattendue ({what})"
        return _Refused(f"{where} : {detail}")


_JSON_KIND = {"str": "du texte", "int": "un nombre", "float": "un nombre", "object": "un objet", "array": "un tableau",
              "null": "null", "bool": "un booléen"}


# ------------------------------------------------------------------ reading
def peek_finess_plus(path: Path) -> FinessPlusHeader:
    """Date, schema version and checksum of a FINESS+ file without decoding its ET (the
    ANS writes schemaVersion and generatedAt first; elsewhere, the arrays before them are
    skipped): a run can skip a file its warehouse already holds."""
    return _read(Path(path), rows=False)[0]


def read_finess_plus(path: Path, header: FinessPlusHeader | None = None) -> FinessPlusFile:
    """Decode a FINESS+ Structures file; raise CampaignError (one French line) for a file
    cut short, not JSON, JSON of another shape or of an unknown schemaVersion. With the
    `header` that `peek_finess_plus` gave, its checksum is not computed again."""
    header, frame = _read(Path(path), rows=True, sha256=header.sha256 if header is not None else None)
    return FinessPlusFile(header.source_file, header.sha256, header.extract_date, frame, header.schema_version)


def _read(path: Path, rows: bool, sha256: str | None = None) -> tuple[FinessPlusHeader, pl.DataFrame | None]:
    try:
        with open(path, "rb") as handle:
            if sha256 is None and not rows:
                sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise CampaignError(f"Référentiel FINESS illisible : {path} ({exc.strerror}).") from exc
    stream = _Inflated(path, sha256)
    columns = _Columns() if rows else None
    collecting = gc.isenabled()
    gc.disable()  # a million short-lived lists and structures, none in a cycle: no collection meanwhile
    try:
        scalars = _walk(_Parser(stream.chunks()), columns, stop_at_header=not rows)
        header = _header(path, scalars, sha256 or stream.sha256)
        frame = columns.frame() if columns is not None else None
    except _Refused as exc:
        raise CampaignError(f"Référentiel FINESS+ refusé : {path.name} : {exc}.") from None
    finally:
        stream.close()
        if collecting:
            gc.enable()
    return header, frame


def _walk(parser: _Parser, columns: "_Columns | None", stop_at_header: bool) -> dict:
    """Go through the top-level object: keep its scalars, hand the `pmej` elements to
    `columns`, skip the other arrays and objects. With `stop_at_header`, stop as soon as
    schemaVersion and generatedAt are known."""
    scalars: dict = {}
    first = parser.peek()
    if first != b"{":
        raise _Refused("attendu un objet JSON FINESS+ (schemaVersion, generatedAt, pmej), "
                       f"reçu {'un tableau' if first == b'[' else 'autre chose'}")
    parser.pos += 1
    keys, seen_pmej = 0, False
    while True:
        parser.where = "au premier niveau de l'objet"
        if stop_at_header and _has_header(scalars):
            return scalars
        if parser.peek() == b"}":
            parser.pos += 1
            break
        if keys:
            parser.expect(b",", "« , » ou « } » entre deux clés")
        if parser.peek() != b'"':
            raise parser.malformed("une clé entre guillemets")
        key = parser.scalar()
        keys += 1
        parser.expect(b":", "« : » après la clé")
        kind = parser.peek()
        if key == "pmej":
            if kind != b"[":
                raise _Refused("pmej : attendu un tableau d'entités juridiques")
            seen_pmej = True
            decoders = (_PMEJ_BATCH, _PMEJ_ONE) if columns is not None else (_SKIP_BATCH, _SKIP_ONE)
            for batch in parser.array(*decoders, "pmej", borrow=columns is not None):
                if columns is not None:
                    columns.add(batch)
        elif kind == b"[":
            for _ in parser.array(_SKIP_BATCH, _SKIP_ONE, str(key), borrow=False):
                pass
        elif kind == b"{":
            parser.pos = parser.value_end()
        else:
            scalars[key] = parser.scalar()
            if key == "schemaVersion":
                _check_version(scalars[key])
    parser.where = "après la fin de l'objet"
    while True:
        parser.pos = _WS.match(parser.buf, parser.pos).end()
        if parser.pos < len(parser.buf):
            raise parser.malformed("la fin du fichier après l'objet JSON")
        if not parser.more():
            break
    if not seen_pmej:
        raise _Refused("pas de tableau pmej : ce n'est pas un fichier FINESS+ Structures")
    return scalars


def _has_header(scalars: dict) -> bool:
    return "schemaVersion" in scalars and "generatedAt" in scalars


def _check_version(version) -> None:
    text = str(version).strip()
    if not re.fullmatch(r"v?" + KNOWN_SCHEMA_MAJOR + r"(\.\d+){0,2}", text):
        raise _Refused(f"schemaVersion « {text} » inconnue : attendu la version {KNOWN_SCHEMA_MAJOR}.x du "
                       "schéma FINESS+ Structures")


def _header(path: Path, scalars: dict, sha256: str) -> FinessPlusHeader:
    if "schemaVersion" not in scalars:
        raise _Refused("schemaVersion absent : attendu la version du schéma FINESS+ Structures")
    generated = scalars.get("generatedAt")
    if not isinstance(generated, str):
        raise _Refused("generatedAt absent : attendu l'horodatage UTC de production du fichier")
    try:
        moment = dt.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", generated.strip()))
    except ValueError:
        raise _Refused(f"generatedAt « {generated} » : attendu un horodatage ISO 8601 "
                       "(2026-03-09T15:49:37Z)") from None
    if moment.tzinfo is None:  # the ANS writes UTC timestamps
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return FinessPlusHeader(str(path), sha256, moment.astimezone(_PARIS).date(), str(scalars["schemaVersion"]),
                            moment)


class _Columns:
    """The ET as the extract's columns. Per batch, one comprehension gives one tuple of text
    per ET (a category or state written as a coded object gives its `code`; absent is "",
    which is null in the frame like an empty text), and the batch becomes one text, its ET
    separated by U+001E and their fields by U+001F, that Polars reads at the end as CSV: that
    costs less than Polars taking 1.5 million Python strings one by one, and holds one
    string per ET instead of fifteen. A batch where a value holds one of those two control
    characters (the count of separators shows it) is kept as its tuples instead. The
    decoded structures of a batch are dropped after it; trimming, empty texts and the checks
    are done by Polars on columns."""

    NAMES = [*STRUCTUREET_FIELDS, *EXTRA_FIELDS]
    _TEXT = ("nofinessej", "nofinesset", "rs", "rslongue", "dateouv", "datefermeture", "siret_ege", "siret",
             "categetab", "etatobjet", "commune_cog", "codepostal", "acheminement", "telephone", "telecopie")
    _SCHEMA = {name: pl.String for name in _TEXT}

    def __init__(self) -> None:
        self.pieces: list[str | list[tuple]] = []  # per batch: its text, or its tuples

    def add(self, batch: list[_Pmej]) -> None:
        rows = [
            (info.numFinessPm or "", general.numFinessEge, general.nomEgeCourt or "", general.nomEgeLong or "",
             general.dateOuverture or "", general.dateFermeture or "", general.siret or "", ege.siret or "",
             (category if category.__class__ is not _Coded else category.code) or "",
             (state if state.__class__ is not _Coded else state.code) or "",
             address.cogCommune or "", address.codePostal or "", address.ligneAcheminement or "",
             telecom.telephone or "", telecom.telecopie or "")
            for pmej in batch if pmej.ege
            for info in (pmej.informationsGeneralesPMEJ or pmej.informationsGeneralesPmej or _NO_INFO,)
            for ege in pmej.ege
            for general in (ege.informationsGeneralesEGE,)
            for category in (ege.categorieentiteGeographiqueExercice or ege.categorieEntiteGeographiqueExercice,)
            for state in (ege.etatObjet,)
            for address in (ege.adresse[0] if ege.adresse else _NO_ADDRESS,)
            for telecom in ((ege.contact[0].telecom  # the first contact's, else the first that has one
                             or next((c.telecom for c in ege.contact if c.telecom is not None), _NO_TELECOM))
                            if ege.contact else _NO_TELECOM,)
        ]
        if not rows:
            return
        text = _ET_SEPARATOR.join(map(_FIELD_SEPARATOR.join, rows))
        if (text.count(_FIELD_SEPARATOR) == (len(self._TEXT) - 1) * len(rows)
                and text.count(_ET_SEPARATOR) == len(rows) - 1):
            self.pieces.append(text)
        else:
            self.pieces.append(rows)

    def _text(self) -> pl.DataFrame:
        """The ET of every batch, in the file's order, one text column each."""
        frames = [
            pl.read_csv(_ET_SEPARATOR.join(group).encode(), has_header=False, separator=_FIELD_SEPARATOR,
                        eol_char=_ET_SEPARATOR, quote_char=None, schema=self._SCHEMA)
            if is_text else pl.DataFrame([row for rows in group for row in rows], schema=self._SCHEMA, orient="row")
            for is_text, group in groupby(self.pieces, key=lambda piece: piece.__class__ is str)
        ]
        self.pieces = []
        return pl.concat(frames) if frames else pl.DataFrame(schema=self._SCHEMA)

    def frame(self) -> pl.DataFrame:
        text = self._text().with_columns(pl.all().str.strip_chars()).with_columns(
            pl.when(pl.all().str.len_bytes() > 0).then(pl.all()))
        orphan = text.filter(pl.col("nofinessej").is_null()).select("nofinesset").head(1)
        if orphan.height:
            raise _Refused(f"l'ET {orphan.item()} appartient à une entité juridique "
                           "sans numFinessPm (informationsGeneralesPMEJ)")
        cog = pl.col("commune_cog").str.to_uppercase()
        return (
            text
            # closed, but when is unknown: absent from this snapshot, as from an extract
            .filter((pl.col("etatobjet") != "I") | pl.col("datefermeture").is_not_null() | pl.col("etatobjet").is_null())
            .with_columns(
                pl.lit("structureet").alias("section"),
                departement_of_cog_commune(cog).alias("departement"),
                pl.concat_str("codepostal", "acheminement", separator=" ", ignore_nulls=True).alias("ligneacheminement"),
                pl.coalesce("siret", "siret_ege").alias("siret"),
                pl.col("categetab").replace_strict(CENTRE_DE_SANTE_LABELS, default=None, return_dtype=pl.String)
                .alias("libcategetab"),
            )
            .with_columns(
                pl.when(pl.col("departement").is_not_null()).then(cog.str.slice(2, 3)).alias("commune"),
                pl.when(pl.col("ligneacheminement").str.len_bytes() > 0).then(pl.col("ligneacheminement"))
                .alias("ligneacheminement"),
                *(pl.lit(None, pl.String).alias(name) for name in self.NAMES if name not in (
                    *self._TEXT, "section", "departement", "commune", "ligneacheminement", "libcategetab")),
            )
            .select(self.NAMES)
        )


_NO_ADDRESS = _Adresse()
_NO_TELECOM = _Telecom()
_NO_INFO = _InfoPmej()
_FIELD_SEPARATOR, _ET_SEPARATOR = "\x1f", "\x1e"  # the unit and record separators of ASCII
