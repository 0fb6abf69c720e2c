"""The pieces every report is built of, each deciding its own look from the console.

A ``Section``, a ``ReportTable`` and a ``Bar`` read ``ConsoleOptions.is_terminal``
when they are rendered: on a terminal, panels, heavy rules and solid bars; in a
log or a pipe, a title over a rule, ASCII tables and bars of ``#``. So no
renderer threads a "plain" flag: the console it prints to decides.

Two promises hold everywhere: a DID is never wrapped or cut (a section takes
the width its widest word needs, and other columns give way first), and a
command is printed whole on a line of its own, outside any frame, so that a
copy from the terminal is exactly the command.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from distro.console import literal

RULE = 70  # the width of a plain section's rule
UNLIMITED = 1 << 20  # columns: wider than any DID
PLAIN_BOX = box.ASCII2
TERMINAL_BOX = box.SIMPLE_HEAVY


class Section:
    """A titled part of a report: a panel on a terminal, a title over a rule elsewhere.

    *framed*: False for parts meant to be copied (commands), which are never
    boxed. The section is at least as wide as its body's widest word, so a
    long DID widens it rather than being cut.
    """

    def __init__(self, title: str | Text, *body: RenderableType, framed: bool = True) -> None:
        # A Text, never a str: a panel reads a str title as markup, and titles may quote DIDs.
        self.title = title if isinstance(title, Text) else Text(title)
        self.body = Group(*body)
        self.framed = framed

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Measured without the console's limit, which Measurement.get would clamp it to.
        least = Measurement.get(console, options.update_width(UNLIMITED), self.body).minimum
        if options.is_terminal and self.framed:
            width = max(options.max_width, least + 4)  # the border and padding
            panel = Panel(self.body, title=self.title, title_align="left", box=box.ROUNDED)
            yield from console.render(panel, options.update_width(width))
            return
        heading = Text.assemble("\n", self.title, f"\n{'=' * RULE}", style="bold")
        heading.overflow = "ignore"
        yield heading
        yield from console.render(self.body, options.update_width(max(options.max_width, least)))


class ReportTable(Table):
    """A table boxed heavily on a terminal and in ASCII elsewhere.

    Its least width counts a column that does not wrap at its full width (rich
    counts its longest word), so a ``Section`` makes room for it and no cell
    of such a column is ever cut.
    """

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.box = TERMINAL_BOX if options.is_terminal else PLAIN_BOX
        yield from super().__rich_console__(console, options)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        measured = super().__rich_measure__(console, options)
        whole = sum(
            width.maximum - width.minimum
            for width in (
                self._measure_column(console, options, column)
                for column in self.columns
                if column.no_wrap
            )
        )
        least = measured.minimum + whole
        return Measurement(least, max(measured.maximum, least))


def did_column(table: Table, header: str = "Customer") -> None:
    """Add a column of DIDs to *table*: never wrapped, so never cut (other columns give way)."""
    table.add_column(header, no_wrap=True)


class Bar:
    """*value* as a bar on a scale where *largest* fills *width* cells; never empty above 0."""

    def __init__(self, value: float, largest: float, width: int) -> None:
        cells = round(width * value / largest) if largest else 0
        self.cells = max(cells, 1) if value > 0 else 0

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.is_terminal:
            yield Text("\u2588" * self.cells, style="cyan")
        else:
            yield Text("#" * self.cells)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.cells, self.cells)


def line(text: str) -> Text:
    """One line of a list of steps, shown whole: never wrapped, never cut, markup not read."""
    shown = literal(text)
    shown.no_wrap, shown.overflow = True, "ignore"
    return shown


def steps_section(title: str, lines: Iterable[str]) -> Section:
    """A section of lines to copy (commands): unframed even on a terminal, each line whole."""
    return Section(title, *(line(text) for text in lines), framed=False)


def facts(rows: Sequence[tuple[str, str]]) -> Table:
    """Two columns, names and values, without borders; no markup is read in a value (it may
    quote what a table holds)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows:
        table.add_row(name, literal(value))
    return table


def duration(hours: float) -> str:
    """*hours*, or days above a day."""
    return f"{hours:,.1f} hours" if hours < 24 else f"{hours / 24:,.1f} days"


def usd(amount: float) -> str:
    """*amount* in US dollars, to the cent."""
    return f"${amount:,.2f}"


def show(console: Console, parts: Sequence[RenderableType]) -> None:
    """Print *parts* to *console*; never crop, so a long DID or command stays whole."""
    console.print(Group(*parts), crop=False)
