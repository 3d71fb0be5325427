"""An import's progress, as it goes: a bar with the rate and the time left on a terminal, a
line every few seconds otherwise."""

import sys
import time
from collections.abc import Callable
from pathlib import Path

from .runs import Progress, Totals


def customer_counts(totals: Totals) -> str:
    return (
        f"{totals.created:,} created, {totals.updated:,} updated, "
        f"{totals.unchanged:,} unchanged, {totals.failed:,} failed"
    )


def plain(text: str) -> str:
    return text


class Meter:
    """Progress: a bar with rows/s and ETA on a terminal, a line every few seconds otherwise."""

    EVERY = 10.0

    def __init__(
        self,
        out,
        stream,
        path: str,
        *,
        quiet: bool,
        unit: str = "rows",
        counts: Callable[[Totals], str] = customer_counts,
    ) -> None:
        self.out = out
        self.unit = unit
        self.counts = counts
        self.quiet = quiet
        self.terminal = hasattr(out, "isatty") and out.isatty()
        self.started = self.shown = time.monotonic()
        self.done_before = 0
        self.raw = getattr(stream, "buffer", None)
        self.size = Path(path).stat().st_size if path != "-" else 0
        self.compressed = getattr(self.raw, "fileobj", None)

    def fraction(self) -> float | None:
        stream = self.compressed or self.raw
        if not self.size or stream is None:
            return None
        try:
            return min(stream.tell() / self.size, 1.0)
        except (OSError, ValueError):
            return None

    def show(self, progress: Progress) -> None:
        now = time.monotonic()
        if self.quiet or (not self.terminal and now - self.shown < self.EVERY):
            return
        self.shown = now
        totals = progress.totals
        rate = totals.rows / max(now - self.started, 1e-9)
        fraction = self.fraction()
        text = (
            f"{self.done_before + totals.rows:,} {self.unit}, {rate:,.0f} {self.unit}/s "
            f"({self.counts(totals)})"
        )
        if self.terminal:
            bar = ""
            if fraction is not None:
                width = 30
                filled = int(fraction * width)
                eta = (now - self.started) * (1 - fraction) / fraction if fraction else 0
                bar = f"[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} ETA {eta:,.0f} s  "
            # A command's stderr draws in the colour of errors on a terminal; progress is no error.
            self.out.write(f"\r{bar}{text}", ending="", style_func=plain)
            self.out.flush()
        else:
            self.out.write(f"line {progress.line:,}: {text}", style_func=plain)

    def finish(self) -> None:
        if self.terminal and not self.quiet:
            self.out.write("")
        sys.stderr.flush()
