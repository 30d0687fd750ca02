"""Where the product writes its files: inside the folder it was given, never through a link.

Output folders (rapports/, relance/, sample/) are often shared: anyone who can write there
could plant a symbolic link named like the next workbook, pointing at a file of the person
who runs the command, which a plain `open(path, "w")` would overwrite. Every file is
therefore written to a temporary file in its folder, then renamed over its name: a rename
replaces a link found there, it never follows it (the file the link pointed to is not
touched), and a reader never sees a half-written file. Sub-folders are walked from the
output folder with O_NOFOLLOW, one directory descriptor after another, so a sub-folder
that is a link (leading out or not) is refused, with no window between check and write.
The output folder itself is the one the person named: a link there is their choice.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import BinaryIO, Iterator

from observatoire.errors import CampaignError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafeOutput(CampaignError):
    """A path inside an output folder that the product refuses to write through."""


def _relative(folder: Path, name: str | PurePath) -> PurePath:
    relative = PurePath(name)
    if relative.is_absolute():  # a path given whole: it must lie in the folder as written
        try:
            relative = relative.relative_to(folder)
        except ValueError:
            raise UnsafeOutput(f"{relative} n'est pas dans le dossier de sortie {folder}.") from None
    if not relative.parts or any(part in ("..", ".") for part in relative.parts):
        raise UnsafeOutput(f"Chemin de sortie refusé : « {name} » doit désigner un fichier dans {folder}.")
    return relative


@contextmanager
def _walk_to_parent(folder: Path, relative: PurePath) -> Iterator[int]:
    """A descriptor of the folder holding `relative`, created as needed, opened component
    by component without following links."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        walked = folder
        for part in relative.parts[:-1]:
            walked = walked / part
            try:
                os.mkdir(part, 0o777, dir_fd=descriptor)
            except FileExistsError:
                pass
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=descriptor)
            except OSError as exc:  # ELOOP: a link; ENOTDIR: a file (or a link on some systems)
                kind = "un lien symbolique" if os.path.islink(walked) else "pas un dossier"
                raise UnsafeOutput(
                    f"Écriture refusée : {walked} est {kind} ; les fichiers de sortie ne sont écrits que "
                    f"dans de vrais dossiers sous {folder} (supprimer ou renommer {walked})."
                ) from exc
            os.close(descriptor)
            descriptor = child
        yield descriptor
    finally:
        os.close(descriptor)


@contextmanager
def open_output(folder: Path | str, name: str | PurePath) -> Iterator[BinaryIO]:
    """A binary file to fill, which becomes `folder/name` when the block ends without an
    error (replacing a file or a link of that name; never following it). On error nothing
    changes at `folder/name`."""
    folder = Path(folder)
    relative = _relative(folder, name)
    target = folder / relative
    with _walk_to_parent(folder, relative) as parent:
        temporary = f".{relative.name}.{uuid.uuid4().hex[:12]}.tmp"
        descriptor = os.open(temporary, _FILE_FLAGS, 0o666, dir_fd=parent)
        try:
            with os.fdopen(descriptor, "w+b") as handle:
                yield handle
            try:
                os.replace(temporary, relative.name, src_dir_fd=parent, dst_dir_fd=parent)
            except IsADirectoryError as exc:
                raise UnsafeOutput(f"Écriture refusée : {target} est un dossier.") from exc
        except BaseException:
            try:
                os.unlink(temporary, dir_fd=parent)
            except FileNotFoundError:
                pass
            raise


def write_output(folder: Path | str, name: str | PurePath, data: bytes) -> Path:
    """Write `data` at `folder/name` through `open_output`; returns that path."""
    with open_output(folder, name) as handle:
        handle.write(data)
    return Path(folder) / name


def save_workbook(workbook, folder: Path | str, name: str | PurePath) -> Path:
    """Save an openpyxl workbook at `folder/name` through `open_output`; returns that path."""
    with open_output(folder, name) as handle:
        workbook.save(handle)
    return Path(folder) / name
