"""Where the ``ccroute`` command prints: tables in a format, lines, errors, a progress bar.

Text tables are laid out by :mod:`ccroute.cli.tables` for the width of the
terminal (or ``COLUMNS``, or 80 columns in a file or a pipe), so a file gets
exactly what a terminal of that width shows. rich, when installed, adds
colour to marked cells and a progress bar on a terminal, and nothing else:
the layout and every mark stay the same, and nothing depends on it.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
import time
from typing import Any, Literal

from .tables import Table, render_csv, render_markdown, render_text

__all__ = ["Console", "Format", "Progress", "make_console", "terminal_width"]

Format = Literal["table", "json", "csv", "markdown"]


def terminal_width() -> int:
    """``COLUMNS`` if set, else the terminal's width, else 80 (a file or a pipe)."""
    return shutil.get_terminal_size((80, 24)).columns


class Console:
    """Prints to ``sys.stdout`` (errors and progress to ``sys.stderr``) as it is when called.

    :param fmt: how tables are printed (``json`` is the caller's business).
    :param width: the width text tables are fitted to.
    """

    def __init__(self, fmt: Format = "table", width: int | None = None) -> None:
        self.format = fmt
        self.width = terminal_width() if width is None else width
        self._first = True
        self._after_table = False

    def table(self, table: Table) -> None:
        """Print ``table`` in the console's format, a blank line between tables."""
        if not self._first:
            self.write("\n")
        self._first = False
        self._after_table = True
        if self.format == "csv":
            self.write(render_csv(table))
        elif self.format == "markdown":
            self.write(render_markdown(table))
        else:
            lines, spans = render_text(table, self.width)
            self.write_lines(lines, spans)

    def write_lines(self, lines: list[str], spans: list[list[tuple[int, int, str]]]) -> None:
        """Write rendered lines; this plain console ignores their colours."""
        self.write("".join(line + "\n" for line in lines))

    def write(self, text: str) -> None:
        """Write ``text`` as it is."""
        sys.stdout.write(text)

    def line(self, text: str, *, colour: str | None = None) -> None:
        """Write one line of text (a note after the tables)."""
        if self.format in ("csv", "json"):
            return  # a machine reads these: nothing but data on stdout
        if not self._first and self._after_table:
            self.write("\n")  # a blank line parts it from the table above
        self._after_table = False
        if self.format == "table":
            text = "\n".join(textwrap.wrap(text, self.width, subsequent_indent="  ")) or text
        self.write(text + "\n")

    def error(self, text: str) -> None:
        """Write an error message to stderr."""
        print(text, file=sys.stderr)

    def progress(self, label: str) -> Progress:
        """A progress display for a run labelled ``label``."""
        return _PlainProgress(label)


class _RichConsole(Console):
    """The same output, with rich's colours on a terminal and its progress bar."""

    def __init__(self, fmt: Format = "table", width: int | None = None) -> None:
        super().__init__(fmt, width)
        from rich.console import Console as RichConsole

        self.console = RichConsole(highlight=False, soft_wrap=True)
        self.errors = RichConsole(stderr=True, highlight=False, soft_wrap=True)

    def write_lines(self, lines: list[str], spans: list[list[tuple[int, int, str]]]) -> None:
        if not self.console.is_terminal:
            super().write_lines(lines, spans)
            return
        from rich.text import Text

        for line, line_spans in zip(lines, spans, strict=True):
            text = Text(line)
            for start, end, colour in line_spans:
                text.stylize(colour, start, end)
            self.console.print(text)

    def error(self, text: str) -> None:
        # Not rich markup: messages quote TOML tables such as [[queues]].
        self.errors.print(text, markup=False, style="red")

    def progress(self, label: str) -> Progress:
        return _RichProgress(self.errors, label)


def make_console(fmt: Format = "table", width: int | None = None) -> Console:
    """rich's console when rich can be imported, the plain one otherwise."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return Console(fmt, width)
    return _RichConsole(fmt, width)


class Progress:
    """A progress display that appears only once a run has taken more than a second."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, share: float) -> None:
        if not self.shown:
            if time.monotonic() - self.started < 1.0:
                return
            self.shown = self.show()
        if self.shown:
            self.update(share)

    def show(self) -> bool:
        """Start showing; whether there is anything to update."""
        return False

    def update(self, share: float) -> None:
        """Show ``share`` (0 to 1) done."""

    def close(self) -> None:
        """Take the display away."""


class _PlainProgress(Progress):
    """A percentage rewritten in place on stderr, when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.last = -1

    def show(self) -> bool:
        return sys.stderr.isatty()

    def update(self, share: float) -> None:
        percent = int(100 * share)
        if percent != self.last:
            self.last = percent
            sys.stderr.write(f"\r{self.label} {percent:3d}%")
            sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * (len(self.label) + 5) + "\r")
            sys.stderr.flush()


class _RichProgress(Progress):
    """rich's progress bar, transient."""

    def __init__(self, console: Any, label: str) -> None:
        super().__init__(label)
        self.console = console
        self.progress: Any = None
        self.task: Any = None

    def show(self) -> bool:
        if not self.console.is_terminal:
            return False  # nothing to animate in a file or a pipe
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=1.0)
        return True

    def update(self, share: float) -> None:
        self.progress.update(self.task, completed=share)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
