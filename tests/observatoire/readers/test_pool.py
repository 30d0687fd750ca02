"""Reading on several processes gives exactly what reading in one gives; the workers start
from any caller (even a script without `if __name__ == "__main__"`); a batch whose worker
died is read again; the members inflated here are zipfile's."""
from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import zipfile
from concurrent.futures import Future
from pathlib import Path

import pytest

from datasets.national import cached_national
from observatoire import stages
from observatoire.readers import submission_files as sf
from observatoire.readers.pool import ReaderPool, read_batch

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return cached_national(tmp_path_factory.mktemp("national"), n_centres=120, file_multiplier=1, finess_lines=2000)


def _same(a: stages.ReceivedFiles, b: stages.ReceivedFiles) -> None:
    assert [o.__dict__ for o in a.outcomes] == [o.__dict__ for o in b.outcomes]
    assert a.cells.equals(b.cells)
    assert a.personnel.equals(b.personnel)
    assert a.reader_issues.equals(b.reader_issues)


def test_two_reader_processes_read_what_one_reads(tiny):
    files = stages.list_files(tiny.submissions_dir)
    assert len(files) > 100
    alone = stages.gather(stages.read_files(files, tiny.submissions_dir, workers=1), tiny.submissions_dir)
    shared = stages.gather(stages.read_files(files, tiny.submissions_dir, workers=2, batch_size=7),
                           tiny.submissions_dir)
    _same(alone, shared)
    # every file has its outcome, in the listing's order; the unreadable ones say why
    assert [o.source_file for o in shared.outcomes] == [f.relative_to(tiny.submissions_dir).as_posix() for f in files]
    assert all(o.reason for o in shared.outcomes if not o.readable)
    assert sum(not o.readable for o in shared.outcomes) == tiny.summary["unreadable"]


def test_prefetched_batches_come_back_whole_and_in_order(tiny):
    files = [str(f) for f in stages.list_files(tiny.submissions_dir)]
    batches = [files[:40], files[40:]]
    with ReaderPool(2) as pool:
        pool.prefetch(batches, tiny.submissions_dir, chunk=9)
        got = [pool.read(batch, tiny.submissions_dir) for batch in batches]
    for batch, result in zip(batches, got):
        expected = read_batch(batch, tiny.submissions_dir)
        assert [o.source_file for o in result.outcomes] == [o.source_file for o in expected.outcomes]
        assert result.cells.equals(expected.cells) and result.personnel.equals(expected.personnel)


def test_batches_queued_twice_are_read_once(tiny):
    # the flow queues the files as soon as they are listed, then the read step queues them
    # again: the second time must not read every file a second time
    files = [str(f) for f in stages.list_files(tiny.submissions_dir)]
    batches = [files[:40], files[40:60]]
    with ReaderPool(2) as pool:
        submitted = []
        submit = pool.submit
        pool.submit = lambda paths, root: submitted.append(list(paths)) or submit(paths, root)
        pool.prefetch(batches, tiny.submissions_dir, chunk=9)
        pool.prefetch(batches, tiny.submissions_dir, chunk=9)
        got = [pool.read(batch, tiny.submissions_dir) for batch in batches]
    assert sorted(path for chunk in submitted for path in chunk) == sorted(files[:60])
    assert [[o.source_file for o in result.outcomes] for result in got] == [
        [Path(f).relative_to(tiny.submissions_dir).as_posix() for f in batch] for batch in batches]


def test_a_batch_whose_worker_died_is_read_again(tiny):
    files = [str(f) for f in stages.list_files(tiny.submissions_dir)][:12]
    pool = ReaderPool(1)  # in-process: the dead worker is simulated by a failed future
    broken: Future = Future()
    broken.set_exception(RuntimeError("processus de lecture arrêté"))
    pool._prefetched[(tuple(files), str(tiny.submissions_dir))] = [broken]
    again = pool.read(files, tiny.submissions_dir)
    assert again.cells.equals(read_batch(files, tiny.submissions_dir).cells)


def test_workers_start_from_a_script_without_main_guard(tiny, tmp_path):
    script = tmp_path / "sans_garde.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from observatoire import stages
        root = Path({str(tiny.submissions_dir)!r})
        batches = stages.read_files(stages.list_files(root), root, workers=2, batch_size=20)
        print(sum(len(b.outcomes) for b in batches))
    """), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(len(stages.list_files(tiny.submissions_dir)))


def _zip(members: dict[str, bytes], prefix: bytes = b"", comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    buffer.write(prefix)
    with zipfile.ZipFile(buffer, "a" if prefix else "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.comment = comment
    return buffer.getvalue()


def test_members_inflated_here_are_zipfiles(tiny):
    workbook = next(p for p in sorted(tiny.submissions_dir.rglob("*.xlsx")) if p.stat().st_size > 1000)
    samples = [
        workbook.read_bytes(),
        _zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"<f>1</f>" * 50, "é.txt": b"x"},
             comment=b"commentaire"),
        # bytes before an archive whose offsets ignore them (a self-extracting archive, say)
        b"MZ" + b"\0" * 100 + _zip({"xl/workbook.xml": b"<workbook/>"}),
    ]
    for raw in samples:
        archive = sf._Archive(raw)
        with zipfile.ZipFile(io.BytesIO(raw)) as reference:
            assert archive.names() == set(reference.namelist())
            for name in reference.namelist():
                assert archive.read(name) == reference.read(name)
    with pytest.raises(zipfile.BadZipFile):
        sf._Archive(b"PK\x03\x04 truncated")
