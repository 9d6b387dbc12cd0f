"""Tables for the ``ccroute`` command: built once, rendered as fitted text, Markdown or CSV.

A :class:`Table` holds columns and rows of :class:`Cell` values. Text
rendering (:func:`render_text`) fits a width without ever cutting a header
or a value: it tries the columns' full headers, then their short ones, then
leaves out the optional columns, lowest priority first, and says under the
table which ones it left out. A cell may carry a *mark* (``*``), explained
under the table, so that what colour says on a terminal is also said in text.
"""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Sequence
from typing import Literal

import attrs

__all__ = ["Cell", "Column", "Span", "Table", "render_csv", "render_markdown", "render_text"]

Justify = Literal["left", "right"]
#: A coloured stretch of a rendered line: (start, end, colour).
Span = tuple[int, int, str]

_GAP = "  "


@attrs.define
class Cell:
    """A value as printed, with an optional mark (explained under the table) and colour."""

    text: str
    mark: str = ""
    colour: str | None = None


@attrs.define
class Column:
    """A column: its header (lines split on newline), a shorter header, alignment, priority.

    ``priority`` 0 columns are always shown; higher ones are left out first
    when the table would not fit the width.
    """

    header: str
    short: str | None = None
    justify: Justify = "right"
    priority: int = 0


@attrs.define
class Table:
    """A table to print: title, columns, rows (``None`` is a section break), marks and notes."""

    title: str | None = None
    columns: list[Column] = attrs.Factory(list)
    rows: list[list[Cell] | None] = attrs.Factory(list)
    #: Mark to its meaning, printed under the table when a cell used it.
    marks: dict[str, str] = attrs.Factory(dict)
    #: Lines printed under the table.
    notes: list[str] = attrs.Factory(list)
    show_header: bool = True

    def add_column(
        self,
        header: str,
        short: str | None = None,
        *,
        justify: Justify = "right",
        priority: int = 0,
    ) -> None:
        """Add a column (see :class:`Column`)."""
        self.columns.append(Column(header, short, justify, priority))

    def add_row(self, *cells: str | Cell) -> None:
        """Add a row; plain strings become unmarked cells."""
        self.rows.append([c if isinstance(c, Cell) else Cell(c) for c in cells])

    def add_section(self) -> None:
        """Add a rule between rows."""
        self.rows.append(None)


def _header_lines(text: str) -> list[str]:
    return text.split("\n")


def _pick(column: Column, short: bool) -> str:
    return column.short if short and column.short is not None else column.header


def _layout(table: Table, keep: Sequence[int], short: bool) -> tuple[list[list[str]], list[int]]:
    headers = [_header_lines(_pick(table.columns[i], short)) for i in keep]
    mark_widths = [
        max((len(row[i].mark) for row in table.rows if row is not None), default=0) for i in keep
    ]
    widths = []
    for k, i in enumerate(keep):
        values = [len(row[i].text) + mark_widths[k] for row in table.rows if row is not None]
        heads = [len(line) for line in headers[k]] if table.show_header else [0]
        widths.append(max([*heads, *values, 0]))
    return headers, widths


def _total(widths: Sequence[int]) -> int:
    return sum(widths) + len(_GAP) * max(0, len(widths) - 1)


def render_text(table: Table, width: int = 80) -> tuple[list[str], list[list[Span]]]:
    """``table`` as lines of aligned text at most ``width`` wide where it can be, and their colours.

    Numbers are right-aligned, marks hang after the value so that marked and
    unmarked figures line up, header lines are bottom-aligned, a rule of
    dashes underlines the header and separates sections, and the marks used
    and the notes follow the table, wrapped to ``width``.
    """
    everything = list(range(len(table.columns)))
    keep, short = everything, False
    headers, widths = _layout(table, keep, short)
    if _total(widths) > width:
        short = True
        headers, widths = _layout(table, keep, short)
    optional = sorted(
        (i for i in everything if table.columns[i].priority > 0),
        key=lambda i: (-table.columns[i].priority, -i),
    )
    dropped: list[int] = []
    while _total(widths) > width and optional:
        dropped.append(optional.pop(0))
        keep = [i for i in everything if i not in dropped]
        headers, widths = _layout(table, keep, short)
    mark_widths = [
        max((len(row[i].mark) for row in table.rows if row is not None), default=0) for i in keep
    ]
    lines: list[str] = []
    spans: list[list[Span]] = []

    def emit(values: Sequence[str], colours: Sequence[str | None] = ()) -> None:
        parts, line_spans, offset = [], [], 0
        for k, value in enumerate(values):
            justify = table.columns[keep[k]].justify
            text = value.rjust(widths[k]) if justify == "right" else value.ljust(widths[k])
            colour = colours[k] if k < len(colours) else None
            if colour and value.strip():
                start = offset + len(text) - len(text.lstrip())
                line_spans.append((start, offset + len(text.rstrip()), colour))
            parts.append(text)
            offset += len(text) + len(_GAP)
        lines.append(_GAP.join(parts).rstrip())
        spans.append(line_spans)

    if table.title:
        lines.append(table.title)
        spans.append([])
    if table.show_header:
        depth = max(len(h) for h in headers) if headers else 0
        for level in range(depth):
            emit([(h[level - depth + len(h)] if level >= depth - len(h) else "") for h in headers])
        lines.append(_GAP.join("-" * w for w in widths))
        spans.append([])
    rule = _GAP.join("-" * w for w in widths)
    for row in table.rows:
        if row is None:
            lines.append(rule)
            spans.append([])
            continue
        emit(
            [row[i].text + row[i].mark.ljust(mark_widths[k]) for k, i in enumerate(keep)],
            [row[i].colour for i in keep],
        )
    used = {row[i].mark for row in table.rows if row is not None for i in keep if row[i].mark}
    notes = [f"{mark} {text}" for mark, text in table.marks.items() if mark in used]
    notes += table.notes
    if dropped:
        names = ", ".join(table.columns[i].header.replace("\n", " ") for i in sorted(dropped))
        notes.append(
            f"Not shown at {width} columns: {names} (--width or --format json shows them)."
        )
    for note in notes:
        for line in textwrap.wrap(note, width=max(width, 20), subsequent_indent="  ") or [""]:
            lines.append(line)
            spans.append([])
    return lines, spans


def render_markdown(table: Table) -> str:
    """``table`` as a GitHub-flavoured Markdown table, every column, full headers."""

    def escape(text: str) -> str:
        return text.replace("|", "\\|").replace("*", "\\*")

    out = [f"**{escape(table.title)}**", ""] if table.title else []
    heads = [escape(c.header.replace("\n", " ")) or " " for c in table.columns]
    out.append("| " + " | ".join(heads) + " |")
    out.append(
        "|" + "|".join("---:" if c.justify == "right" else ":---" for c in table.columns) + "|"
    )
    for row in table.rows:
        if row is None:
            continue
        out.append("| " + " | ".join(escape(c.text + c.mark) for c in row) + " |")
    used = {c.mark for row in table.rows if row is not None for c in row if c.mark}
    notes = [f"{escape(m)} {t}" for m, t in table.marks.items() if m in used] + table.notes
    if notes:
        out.append("")
        out.extend(notes)
    return "\n".join(out) + "\n"


def render_csv(table: Table) -> str:
    """``table`` as CSV: a ``# title`` line, a header row, one row per data row.

    Marks are not glued to values: a column whose cells carry marks is
    followed by a column saying what the mark means, empty where none.
    """
    buffer = io.StringIO()
    if table.title:
        buffer.write(f"# {table.title}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    marked = [
        any(row[i].mark for row in table.rows if row is not None) for i in range(len(table.columns))
    ]
    header: list[str] = []
    for column, has_mark in zip(table.columns, marked, strict=True):
        name = column.header.replace("\n", " ") or "name"
        header.append(name)
        if has_mark:
            header.append(f"{name}: note")
    writer.writerow(header)
    for row in table.rows:
        if row is None:
            continue
        values: list[str] = []
        for cell, has_mark in zip(row, marked, strict=True):
            values.append(cell.text.strip())
            if has_mark:
                values.append(table.marks.get(cell.mark, cell.mark) if cell.mark else "")
        writer.writerow(values)
    return buffer.getvalue()
