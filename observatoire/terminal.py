"""What a run of `observatoire run` shows while it works: on a terminal, one line on
stderr saying which stage runs and how many files are read; piped (cron, a log file),
nothing but the messages of a run waiting for its campaign year. The summary goes to
stdout either way, the same."""
from __future__ import annotations

from observatoire import pipeline


class TerminalProgress(pipeline.Hooks):
    def __init__(self, stream) -> None:
        self.stream = stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.shown = False

    def _show(self, text: str) -> None:
        if self.live:
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()
            self.shown = True

    def started(self, stage: str) -> None:
        if stage != "referential":  # it runs beside the reading, whose count says more
            self._show(f"{_first_upper(pipeline.STAGE_LABELS[stage])}…")

    def waiting_for(self, stage: str) -> None:
        if stage == "referential":  # the FINESS snapshots are still being written
            self._show(f"{_first_upper(pipeline.STAGE_LABELS[stage])} : enregistrement dans l'entrepôt…")

    def files_read(self, batch, done: int, total: int) -> None:
        self._show(f"Lecture des fichiers : {done} / {total}")

    def waiting(self, message: str) -> None:
        self.clear()
        print(f"observatoire : {message}", file=self.stream, flush=True)

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _first_upper(label: str) -> str:
    """« rapprochement FINESS » -> « Rapprochement FINESS » (str.capitalize lowers the rest)."""
    return label[:1].upper() + label[1:]
