"""Generated blocks of the documentation: every result a page shows comes from a committed file.

README.md and docs/*.md quote the committed reference results (``docs/results/``) only
between markers, and this module writes what lies between them, so that no number on a
page can go stale: ``python -m prbench.report.docs`` rewrites the blocks of every page,
``python -m prbench.report.docs --check`` names each block that differs from what the
committed files give (exit status 1), and ``tests/test_docs.py`` runs the check.

A block::

    <!-- generated: PATH [table=N | section="TEXT"] [rows="A|B"] [columns="C|D"] -->
    (written by this module)
    <!-- end generated -->

PATH is relative to the repository root. Without selectors the block is the whole file.
The selectors read the file's Markdown tables (a table: consecutive lines starting with
``|``, a header row, an alignment row and body rows; its heading: the paragraph just
above it):

* ``table=N`` picks the N-th table of the file (1-based); ``table=N-M`` and
  ``table=N,M`` several. ``section="TEXT"`` picks the tables whose heading contains TEXT
  (``section="A|B"``: either). Alone, each picked table is written with its heading
  (an excerpt, with ``rows`` or ``columns``, without).
* ``rows="A|B|..."`` writes one table of the rows whose first cell is A, B, ... (in that
  order) from the picked tables (default: all of the file's), under the header of the
  first; each label must match exactly one row, and the rows' tables must share a header.
* ``columns="C|D|..."`` keeps those columns, by header text, in that order.

A single value, inline in a sentence::

    the run took <!-- generated: PATH row="A" column="C" -->1484.9<!-- end generated --> s
    the run took <!-- generated: PATH match="Wall ([0-9.]+) s" -->1484.9<!-- end generated --> s

``row`` and ``column`` (with ``table`` or ``section`` where the label is in several tables)
give one cell; ``match`` the first group (or the whole match) of the first match of a
regular expression (Python syntax, multiline) in the file. Attribute values are bare words or
double-quoted text (which cannot hold a double quote). Markers inside fenced code blocks are
examples, not blocks.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..io import write_text

__all__ = ["Block", "DocsError", "Stale", "blocks", "check", "default_pages", "main",
           "render", "render_block", "update"]

START = re.compile(r"<!--\s*generated:(?P<spec>.*?)-->", re.S)
END = re.compile(r"<!--\s*end generated\s*-->")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_ATTRIBUTE = re.compile(r'(?P<key>[A-Za-z_]+)=(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]+))')
#: Attributes a marker may carry.
KEYS = ("table", "section", "rows", "columns", "row", "column", "match")


class DocsError(ValueError):
    """A marker cannot be rendered (unknown attribute, missing file, no such table, row or
    column, no end marker): the message names the page, line and marker."""


@dataclass(frozen=True)
class Block:
    """One generated block of a page: its marker, where it is, and what it holds now."""

    page: str
    line: int  # 1-based line of the start marker
    marker: str  # the start marker as written
    path: str  # the file it is generated from, relative to the root
    attributes: dict
    start: int  # offsets of the text between the start and end markers
    end: int
    current: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}: {self.marker}"

    @property
    def inline(self) -> bool:
        """A single value (row and column, or match), written inside a sentence."""
        return "match" in self.attributes or "row" in self.attributes


@dataclass(frozen=True)
class Stale:
    """A block whose text differs from what its file gives now."""

    block: Block
    expected: str

    def __str__(self) -> str:
        diff = difflib.unified_diff(self.block.current.strip("\n").splitlines(),
                                    self.expected.strip("\n").splitlines(),
                                    "on the page", "generated", lineterm="", n=0)
        return f"{self.block.where} is stale:\n" + "\n".join(
            "    " + line for line in list(diff)[2:])


# ---------------------------------------------------------------------------- parsing

def _fenced(text: str) -> list[tuple[int, int]]:
    """Offsets (start, end) of the fenced code blocks of ``text``."""
    ranges, opened, offset = [], None, 0
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line)
        if match and (opened is None or line.lstrip().startswith(opened[1])):
            if opened is None:
                opened = (offset, match.group(1))
            else:
                ranges.append((opened[0], offset + len(line)))
                opened = None
        offset += len(line)
    if opened is not None:
        ranges.append((opened[0], len(text)))
    return ranges


def _parse_spec(spec: str, where: str) -> tuple[str, dict[str, str]]:
    """(path, attributes) of a marker's text after ``generated:``."""
    spec = spec.strip()
    if not spec:
        raise DocsError(f"{where}: the marker names no file")
    path, rest = (spec.split(None, 1) + [""])[:2]
    if "=" in path:
        raise DocsError(f"{where}: the marker must start with the file's path")
    attributes: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _ATTRIBUTE.match(rest, position)
        if not match:
            raise DocsError(f"{where}: cannot read {rest[position:]!r} (attributes are "
                            'key=value or key="value")')
        key = match.group("key")
        if key not in KEYS:
            raise DocsError(f"{where}: unknown attribute {key!r}; known: {', '.join(KEYS)}")
        if key in attributes:
            raise DocsError(f"{where}: attribute {key!r} given twice")
        attributes[key] = match.group("quoted") if match.group("quoted") is not None \
            else match.group("bare")
        position = match.end()
        while position < len(rest) and rest[position].isspace():
            position += 1
    if "table" in attributes and "section" in attributes:
        raise DocsError(f"{where}: give table= or section=, not both")
    if ("row" in attributes) != ("column" in attributes):
        raise DocsError(f"{where}: a single value needs both row= and column=")
    if "row" in attributes and ({"rows", "columns", "match"} & attributes.keys()):
        raise DocsError(f"{where}: row= and column= give one value; drop rows=, columns=, "
                        "match=")
    if "match" in attributes and len(attributes) > 1:
        raise DocsError(f"{where}: match= reads the whole file; drop the other attributes")
    return path, attributes


def blocks(text: str, page: str = "<page>") -> list[Block]:
    """The generated blocks of a page's ``text`` (markers in fenced code excluded).

    Raises :class:`DocsError` for a start marker without its end, an end marker without a
    start, or a marker that cannot be read."""
    fences = _fenced(text)

    def outside(match: re.Match) -> bool:
        return not any(low <= match.start() < high for low, high in fences)

    events = sorted([(m.start(), "start", m) for m in START.finditer(text) if outside(m)]
                    + [(m.start(), "end", m) for m in END.finditer(text) if outside(m)],
                    key=lambda event: event[0])
    found, opened = [], None
    for offset, kind, match in events:
        line = text.count("\n", 0, offset) + 1
        if kind == "end":
            if opened is None:
                raise DocsError(f"{page}:{line}: <!-- end generated --> without its start "
                                "marker")
            start, where = opened
            path, attributes = _parse_spec(start.group("spec"), where)
            found.append(Block(page, text.count("\n", 0, start.start()) + 1,
                               " ".join(start.group(0).split()), path, attributes,
                               start.end(), match.start(), text[start.end():match.start()]))
            opened = None
        elif opened is not None:
            raise DocsError(f"{opened[1]}: no <!-- end generated --> before the next marker "
                            f"(line {line})")
        else:
            opened = (match, f"{page}:{line}: {' '.join(match.group(0).split())}")
    if opened is not None:
        raise DocsError(f"{opened[1]}: no <!-- end generated --> before the end of the page")
    return found


@dataclass(frozen=True)
class _Table:
    number: int  # 1-based, in file order
    heading: str | None
    header: list[str]
    align: list[str]
    rows: list[list[str]]


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


def _tables(text: str) -> list[_Table]:
    """The Markdown tables of ``text``, each with the paragraph just above it."""
    lines = text.splitlines()
    tables, index = [], 0
    while index < len(lines):
        if not lines[index].lstrip().startswith("|"):
            index += 1
            continue
        first = index
        while index < len(lines) and lines[index].lstrip().startswith("|"):
            index += 1
        body = lines[first:index]
        if len(body) < 2 or not re.fullmatch(r"[\s|:\-]+", body[1]):
            continue
        above, cursor = [], first - 1
        while cursor >= 0 and not lines[cursor].strip():
            cursor -= 1
        while cursor >= 0 and lines[cursor].strip():
            above.insert(0, lines[cursor])
            cursor -= 1
        if above and above[-1].lstrip().startswith("|"):
            above = []  # the previous table, not a heading
        tables.append(_Table(len(tables) + 1, "\n".join(above) or None, _cells(body[0]),
                             _cells(body[1]), [_cells(line) for line in body[2:]]))
    return tables


def _format(header: Sequence[str], align: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, align, *rows])


def _pick_tables(tables: list[_Table], attributes: dict[str, str], where: str,
                 path: str) -> list[_Table]:
    if not tables:
        raise DocsError(f"{where}: {path} holds no Markdown table")
    if "table" in attributes:
        spec, numbers = attributes["table"], []
        for part in spec.split(","):
            bounds = part.split("-")
            if not all(bound.strip().isdigit() for bound in bounds) or len(bounds) > 2:
                raise DocsError(f"{where}: table={spec!r} is not N, N-M or N,M")
            low, high = int(bounds[0]), int(bounds[-1])
            numbers.extend(range(low, high + 1))
        outside = [number for number in numbers if not 1 <= number <= len(tables)]
        if outside or not numbers:
            raise DocsError(f"{where}: {path} has {len(tables)} table(s), no table {outside}")
        return [tables[number - 1] for number in numbers]
    if "section" in attributes:
        wanted = attributes["section"].split("|")
        picked = [table for table in tables
                  if table.heading and any(text in table.heading for text in wanted)]
        if not picked:
            headings = "; ".join(repr(t.heading.splitlines()[-1][:60]) if t.heading else "none"
                                 for t in tables)
            raise DocsError(f"{where}: no table of {path} has a heading containing "
                            f"{attributes['section']!r} (headings: {headings})")
        return picked
    return tables


def _find_row(tables: list[_Table], label: str, where: str, path: str) -> tuple[_Table, list]:
    found = [(table, row) for table in tables for row in table.rows if row and row[0] == label]
    numbers = [table.number for table, _ in found]
    if not found:
        raise DocsError(f"{where}: no row {label!r} in table(s) "
                        f"{[table.number for table in tables]} of {path}")
    if len(found) > 1:
        raise DocsError(f"{where}: row {label!r} is in tables {numbers} of {path}: narrow "
                        "with table= or section=")
    return found[0]


def _column_indices(header: list[str], wanted: list[str], where: str, path: str) -> list[int]:
    missing = [name for name in wanted if name not in header]
    if missing:
        raise DocsError(f"{where}: no column {missing} in {path} (columns: {header})")
    return [header.index(name) for name in wanted]


def render_block(block: Block, root: str | Path = ".") -> str:
    """What lies between ``block``'s markers when generated from its file under ``root``:
    ``"\\n\\n" + content + "\\n\\n"`` for a block, the bare value for an inline one."""
    where, root = block.where, Path(root)
    source = (root / block.path)
    try:
        source.resolve().relative_to(root.resolve())
    except ValueError:
        raise DocsError(f"{where}: {block.path} is outside the repository") from None
    if not source.is_file():
        raise DocsError(f"{where}: no file {block.path} (under {root})")
    text = source.read_text(encoding="utf-8")
    attributes = block.attributes
    if "match" in attributes:
        try:
            match = re.search(attributes["match"], text, re.M)
        except re.error as error:
            raise DocsError(f"{where}: match= is not a regular expression: {error}") from None
        if not match:
            raise DocsError(f"{where}: {attributes['match']!r} matches nothing in {block.path}")
        return match.group(1) if match.re.groups else match.group(0)
    if not attributes:
        return "\n\n" + text.strip("\n") + "\n\n"
    tables = _pick_tables(_tables(text), attributes, where, block.path)
    if "row" in attributes:
        table, row = _find_row(tables, attributes["row"], where, block.path)
        index, = _column_indices(table.header, [attributes["column"]], where, block.path)
        if index >= len(row):
            raise DocsError(f"{where}: row {attributes['row']!r} has no cell in column "
                            f"{attributes['column']!r}")
        return row[index]
    if "rows" in attributes:
        found = [_find_row(tables, label, where, block.path)
                 for label in attributes["rows"].split("|")]
        header, align = found[0][0].header, found[0][0].align
        for table, row in found:
            if table.header != header:
                raise DocsError(f"{where}: row {row[0]!r} is in table {table.number}, whose "
                                f"header differs from table {found[0][0].number}'s")
        parts = [(None, header, align, [row for _, row in found])]
    else:  # whole tables with their headings; an excerpt of their columns without
        parts = [(None if "columns" in attributes else table.heading, table.header,
                  table.align, table.rows) for table in tables]
    rendered = []
    for heading, header, align, rows in parts:
        if "columns" in attributes:
            keep = _column_indices(header, attributes["columns"].split("|"), where, block.path)
            header, align = [header[i] for i in keep], [align[i] for i in keep]
            rows = [[row[i] if i < len(row) else "" for i in keep] for row in rows]
        table = _format(header, align, rows)
        rendered.append(f"{heading}\n\n{table}" if heading else table)
    return "\n\n" + "\n\n".join(rendered) + "\n\n"


def render(text: str, root: str | Path = ".", page: str = "<page>") -> str:
    """``text`` (a page) with every generated block rewritten from its file under ``root``."""
    pieces, cursor = [], 0
    for block in blocks(text, page):
        pieces += [text[cursor:block.start], render_block(block, root)]
        cursor = block.end
    return "".join(pieces) + text[cursor:]


# ---------------------------------------------------------------------------- pages

def default_pages(root: str | Path = ".") -> list[Path]:
    """README.md and docs/*.md under ``root`` (the reference results' own README excluded)."""
    root = Path(root)
    return [path for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]
            if path.is_file()]


def _page_name(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def check(paths: Iterable[str | Path] | None = None, root: str | Path = ".") -> list[Stale]:
    """The blocks of the pages ``paths`` (default: :func:`default_pages`) whose text differs
    from what their files under ``root`` give; empty when every page is up to date."""
    root = Path(root)
    stale = []
    for path in (default_pages(root) if paths is None else map(Path, paths)):
        text = path.read_text(encoding="utf-8")
        for block in blocks(text, _page_name(path, root)):
            expected = render_block(block, root)
            if expected != block.current:
                stale.append(Stale(block, expected))
    return stale


def update(paths: Iterable[str | Path] | None = None, root: str | Path = ".") -> list[Path]:
    """Rewrite the generated blocks of the pages ``paths`` (default: :func:`default_pages`)
    in place, each page atomically (:func:`prbench.io.write_text`) and only if it changes;
    the pages written. Every page is rendered before any is written, so that a marker
    error leaves all of them as they were."""
    root = Path(root)
    rendered = []
    for path in (default_pages(root) if paths is None else map(Path, paths)):
        text = path.read_text(encoding="utf-8")
        new = render(text, root, _page_name(path, root))
        if new != text:
            rendered.append((path, new))
    for path, new in rendered:
        write_text(path, new)
    return [path for path, _ in rendered]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m prbench.report.docs [--check] [--root DIR] [FILES]``: 0 when done (or up
    to date), 1 when --check finds stale blocks, 2 for a marker that cannot be rendered."""
    parser = argparse.ArgumentParser(
        prog="python -m prbench.report.docs",
        description="Regenerate the blocks between <!-- generated: FILE ... --> and "
                    "<!-- end generated --> of the documentation from the committed files "
                    "they name (module prbench.report.docs for the syntax).")
    parser.add_argument("files", nargs="*", metavar="FILES",
                        help="pages (default: README.md and docs/*.md under the root)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; name each stale block and exit 1 if any")
    parser.add_argument("--root", default=".",
                        help="repository root, which the markers' paths are relative to "
                             "(default: the current directory)")
    args = parser.parse_args(argv)
    pages = args.files or default_pages(args.root)
    if not pages:
        print(f"{parser.prog}: error: no README.md or docs/*.md under {args.root}",
              file=sys.stderr)
        return 2
    try:
        if args.check:
            stale = check(pages, args.root)
            for item in stale:
                print(item)
            if stale:
                print(f"{len(stale)} stale generated block(s); regenerate with "
                      f"`{parser.prog}`", file=sys.stderr)
                return 1
            count = sum(len(blocks(Path(page).read_text(encoding="utf-8"))) for page in pages)
            print(f"{count} generated block(s) in {len(pages)} page(s) up to date")
            return 0
        for page in update(pages, args.root):
            print(f"updated {page}")
        return 0
    except (DocsError, OSError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
