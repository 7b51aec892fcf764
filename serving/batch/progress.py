"""Progress of a batch run on stderr: partitions done, rows per second, time left.

A rich progress bar when stderr is a terminal; otherwise one plain line per partition (a log
file or a test reading stderr sees how far the run got). Either way the run ends with one
summary line (:meth:`BatchProgress.summary`).
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class BatchProgress:
    """``with BatchProgress("scoring", total) as bar: ... bar.advance(rows)``."""

    def __init__(
        self, description: str, total: int, *, stream: TextIO | None = None, quiet: bool = False
    ) -> None:
        self.description = description
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.done = 0
        self.rows = 0
        self.started = time.perf_counter()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> BatchProgress:
        self.started = time.perf_counter()
        if not self.quiet and self.stream.isatty():
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("partitions, {task.fields[rate]} rows/s"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total, rate="-")
        return self

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def advance(self, rows: int) -> None:
        """One more partition done, `rows` order rows in it."""
        self.done += 1
        self.rows += rows
        rate = f"{self.rows_per_second:,.0f}"
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, rate=rate)
        elif not self.quiet:
            left = self.seconds / self.done * (self.total - self.done)
            print(
                f"{self.description}: partition {self.done}/{self.total} done, "
                f"{rate} rows/s, about {left:.0f} s left",
                file=self.stream,
                flush=True,
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
