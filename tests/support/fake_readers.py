"""Readers that misbehave, for the tests of the reader pool: with the environment variable
OBSERVATOIRE_EXTRA_READERS=tests.support.fake_readers (reader processes inherit it and the
tests' path), a file `*.essai` is read here, doing what its first word says. Never used
by the product."""
from __future__ import annotations

import ctypes
import os
import signal
import time


def _panic() -> None:
    from polars.exceptions import PanicException  # pyo3's own type, a BaseException

    raise PanicException("range start index 4 out of range for slice of length 2")


class _ReaderGaveUp(BaseException):
    """A BaseException that cannot be pickled back to the parent (its __init__ wants two)."""

    def __init__(self, what, why):
        super().__init__(f"{what}: {why}")


def _unpicklable() -> None:
    raise _ReaderGaveUp("lecteur", "abandon")


def _segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)
    ctypes.string_at(0)  # if the signal were blocked


def _sleep() -> None:
    while True:
        time.sleep(60)


def _spin() -> None:
    while True:
        pass


def _allocate() -> None:
    held = []
    while True:  # bounded by the reader process's memory limit, which is what is under test
        held.append(bytearray(128 * 1024 * 1024))


def _exit() -> None:
    os._exit(0)


BEHAVIOURS = {
    b"panique": _panic, b"baseexception": _unpicklable, b"segfault": _segfault, b"abort": os.abort,
    b"dort": _sleep, b"boucle": _spin, b"alloue": _allocate, b"sortie": _exit,
}


def read_test_file(raw: bytes, outcome):
    BEHAVIOURS[raw.split()[0]]()
    raise AssertionError("unreachable")


READERS = {".essai": read_test_file}
