"""The documentation's generated blocks (prbench.report.docs) equal what the committed results
give, a planted difference is found and named, and the generator itself, on a hand-made
page and hand-made tables, writes exactly the text expected here (typed out by hand, not
produced by the code under test)."""

import re
import shutil
import subprocess
import sys

import pytest

from prbench.report import docs
from workflow_helpers import ROOT

PAGES = docs.default_pages(ROOT)
TABLE1 = "docs/results/default/noiseless/tables/table1.md"


def test_the_pages_are_readme_and_every_docs_page():
    names = {path.relative_to(ROOT).as_posix() for path in PAGES}
    assert "README.md" in names
    assert names == {"README.md"} | {f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md")}


def test_every_generated_block_equals_what_the_committed_results_give():
    stale = docs.check(PAGES, ROOT)
    assert not stale, ("stale generated blocks; run `python -m prbench.report.docs`:\n"
                       + "\n".join(map(str, stale)))


def test_the_readme_and_the_results_pages_quote_results_through_markers():
    """The README's Table 1 excerpt and the results pages' tables are generated blocks."""
    readme = (ROOT / "README.md").read_text()
    marked = {block.path for block in docs.blocks(readme, "README.md")}
    assert TABLE1 in marked
    for page in ("results.md", "regimes.md", "learning.md"):
        blocks = docs.blocks((ROOT / "docs" / page).read_text(), page)
        assert any(not block.inline for block in blocks), page


def test_inline_values_stay_inside_their_paragraph():
    """A line that starts with a marker (up to 3 spaces in) would start a Markdown HTML
    block and split its paragraph: such a line holds a block marker and nothing else."""
    for page in PAGES:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if re.match(r" {0,3}<!--\s*(generated:|end generated)", line):
                assert re.fullmatch(r"<!-- generated:[^>]*-->|<!-- end generated -->", line), (
                    f"{page.name}:{number}: an inline marker starts the line: {line[:80]}")


def test_readme_is_a_short_guide_that_reaches_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"
    assert "\npytest\n" in readme  # the test command CI runs


def anchors(page):
    """The anchors GitHub gives a page's headings: lowercase, punctuation dropped, spaces
    as hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def test_relative_links_of_the_pages_resolve():
    """Every link to a file of the repository reaches it, and every #anchor a heading."""
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path) if path else page
            assert linked.exists(), f"{page.name}: broken link {target}"
            if anchor and linked.suffix == ".md":
                assert anchor in anchors(linked), f"{page.name}: no heading #{anchor} in {path}"


# ------------------------------------------------------------------- planted differences

def test_a_changed_number_on_a_page_is_found_and_named(tmp_path):
    page = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    original = "| HIO shrink-wrap | 0.029 | [0.021, 0.038] |"
    assert original in text
    page.write_text(text.replace(original, "| HIO shrink-wrap | 0.031 | [0.021, 0.038] |"))
    stale = docs.check([page], ROOT)
    assert len(stale) == 1
    report = str(stale[0])
    assert stale[0].block.path == TABLE1
    assert "README.md:" in report and TABLE1 in report and "is stale" in report
    assert "0.031" in report and "0.029" in report
    docs.update([page], ROOT)
    assert page.read_text() == text


def test_a_changed_reference_table_names_every_block_quoting_it(tmp_path):
    """A regenerated reference whose pages were not regenerated fails the check, naming each
    block that quotes the changed row, and nothing else."""
    for source in (ROOT / "docs" / "results").rglob("*.md"):
        target = tmp_path / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    shutil.copyfile(ROOT / "README.md", tmp_path / "README.md")
    assert docs.check([tmp_path / "README.md"], tmp_path) == []
    table = tmp_path / TABLE1
    text = table.read_text()
    row = "| RAAR shrink-wrap | 0.028 | [0.020, 0.037] |"
    assert text.count(row) == 1
    table.write_text(text.replace(row, "| RAAR shrink-wrap | 0.027 | [0.020, 0.037] |"))
    stale = docs.check([tmp_path / "README.md"], tmp_path)
    named = {(item.block.attributes.get("rows") is not None, item.block.attributes.get("row"))
             for item in stale}
    assert (True, None) in named  # the Table 1 excerpt
    assert (False, "RAAR shrink-wrap") in named  # the reading's value
    assert all(item.block.path == TABLE1 for item in stale)
    assert all("RAAR shrink-wrap" in (item.block.attributes.get("rows", "")
                                      + item.block.attributes.get("row", "")) for item in stale)


def test_check_command_exits_1_and_names_the_stale_block(tmp_path, capsys):
    shutil.copyfile(ROOT / "docs" / "results.md", tmp_path / "results.md")
    page = tmp_path / "results.md"
    page.write_text(page.read_text().replace("| Mean training object | 0.378 |",
                                             "| Mean training object | 0.388 |", 1))
    assert docs.main(["--check", "--root", str(ROOT), str(page)]) == 1
    out = capsys.readouterr().out
    assert f"<!-- generated: {TABLE1} -->" in out and "is stale" in out
    assert docs.main(["--root", str(ROOT), str(page)]) == 0
    assert docs.main(["--check", "--root", str(ROOT), str(page)]) == 0


def test_the_module_runs_as_a_command():
    result = subprocess.run([sys.executable, "-m", "prbench.report.docs", "--check"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


# ------------------------------------------------------------------- hand-made page

HAND_TABLES = """\
Timings of run `x`

**Group one**

| Method | Mean | Images |
| --- | ---: | ---: |
| Alpha | 0.100 | 10 |
| Beta, long name | 0.200 | 10 |

**Group two**

| Method | Mean | Images |
| --- | ---: | ---: |
| Gamma | 0.300 | 12 |

**Paired with Alpha**

| Method | Difference | 95% CI |
| --- | ---: | ---: |
| Beta, long name | +0.100 | [+0.050, +0.150] |
| Gamma | +0.200 | [+0.100, +0.300] |

Wall 42.5 s from the first job's start; 7 jobs.
"""

HAND_PAGE = """\
# A page

Whole file:

<!-- generated: r/t.md -->
stale text
<!-- end generated -->

Rows across groups, two columns:

<!-- generated: r/t.md table=1-2 rows="Gamma|Alpha" columns="Method|Mean" -->
<!-- end generated -->

One table by its heading:

<!-- generated: r/t.md section="Group two" -->
<!-- end generated -->

Columns of a table, without its heading:

<!-- generated: r/t.md table=3 columns="95% CI|Method" -->
<!-- end generated -->

Gamma scores <!-- generated: r/t.md table=2 row="Gamma" column="Mean" -->?<!-- end generated -->,
<!-- generated: r/t.md section="Paired" row="Gamma" column="95% CI" --><!-- end generated --> paired;
the run took <!-- generated: r/t.md match="Wall ([0-9.]+) s" -->1<!-- end generated --> s.

```
<!-- generated: an/example.md -->
<!-- end generated -->
```
"""

EXPECTED = ("""\
# A page

Whole file:

<!-- generated: r/t.md -->

""" + HAND_TABLES + """
<!-- end generated -->

Rows across groups, two columns:

<!-- generated: r/t.md table=1-2 rows="Gamma|Alpha" columns="Method|Mean" -->

| Method | Mean |
| --- | ---: |
| Gamma | 0.300 |
| Alpha | 0.100 |

<!-- end generated -->

One table by its heading:

<!-- generated: r/t.md section="Group two" -->

**Group two**

| Method | Mean | Images |
| --- | ---: | ---: |
| Gamma | 0.300 | 12 |

<!-- end generated -->

Columns of a table, without its heading:

<!-- generated: r/t.md table=3 columns="95% CI|Method" -->

| 95% CI | Method |
| ---: | --- |
| [+0.050, +0.150] | Beta, long name |
| [+0.100, +0.300] | Gamma |

<!-- end generated -->

Gamma scores <!-- generated: r/t.md table=2 row="Gamma" column="Mean" -->0.300<!-- end generated -->,
<!-- generated: r/t.md section="Paired" row="Gamma" column="95% CI" -->[+0.100, +0.300]<!-- end generated --> paired;
the run took <!-- generated: r/t.md match="Wall ([0-9.]+) s" -->42.5<!-- end generated --> s.

```
<!-- generated: an/example.md -->
<!-- end generated -->
```
""")


@pytest.fixture
def hand_root(tmp_path):
    root = tmp_path / "repo"
    (root / "r").mkdir(parents=True)
    (root / "r" / "t.md").write_text(HAND_TABLES)
    (tmp_path / "outside.md").write_text("x\n")
    return root


def test_render_of_a_hand_made_page(hand_root):
    assert docs.render(HAND_PAGE, hand_root) == EXPECTED
    assert docs.render(EXPECTED, hand_root) == EXPECTED  # idempotent
    page = hand_root / "page.md"
    page.write_text(HAND_PAGE)
    stale = docs.check([page], hand_root)
    assert [item.block.line for item in stale] == [5, 11, 16, 21, 24, 25, 26]
    assert docs.update([page], hand_root) == [page]
    assert page.read_text() == EXPECTED
    assert docs.check([page], hand_root) == [] and docs.update([page], hand_root) == []


@pytest.mark.parametrize("marker, named", [
    ('<!-- generated: r/missing.md -->', "no file r/missing.md"),
    ('<!-- generated: r/t.md colour="red" -->', "unknown attribute 'colour'"),
    ('<!-- generated: r/t.md rows="Delta" -->', "no row 'Delta'"),
    ('<!-- generated: r/t.md rows="Gamma" -->', "row 'Gamma' is in tables [2, 3]"),
    ('<!-- generated: r/t.md table=1 columns="Median" -->', "no column ['Median']"),
    ('<!-- generated: r/t.md table=4 -->', "has 3 table(s), no table [4]"),
    ('<!-- generated: r/t.md section="Group nine" -->', "heading containing 'Group nine'"),
    ('<!-- generated: r/t.md row="Alpha" -->', "needs both row= and column="),
    ('<!-- generated: r/t.md match="Idle ([0-9]+)" -->', "matches nothing in r/t.md"),
    ('<!-- generated: -->', "names no file"),
    ('<!-- generated: ../outside.md -->', "outside the repository"),
])
def test_a_marker_that_cannot_be_rendered_is_named(hand_root, marker, named):
    page = f"# Page\n\ntext\n\n{marker}\n<!-- end generated -->\n"
    with pytest.raises(docs.DocsError) as error:
        docs.render(page, hand_root, page="p.md")
    message = str(error.value)
    assert named in message
    assert message.startswith("p.md:5: ") and " ".join(marker.split()) in message


@pytest.mark.parametrize("page, named", [
    ("<!-- generated: r/t.md -->\ntext\n", "p.md:1: <!-- generated: r/t.md -->: no <!-- end "
     "generated --> before the end of the page"),
    ("<!-- generated: r/t.md -->\n<!-- generated: r/t.md table=1 -->\n<!-- end generated -->\n",
     "p.md:1: <!-- generated: r/t.md -->: no <!-- end generated --> before the next marker "
     "(line 2)"),
    ("text\n\n<!-- end generated -->\n", "p.md:3: <!-- end generated --> without its start"),
])
def test_unmatched_markers_are_named(hand_root, page, named):
    with pytest.raises(docs.DocsError, match=re.escape(named)):
        docs.render(page, hand_root, page="p.md")


def test_an_error_leaves_every_page_unwritten(hand_root, capsys):
    good, bad = hand_root / "good.md", hand_root / "bad.md"
    good.write_text(HAND_PAGE)
    bad.write_text("<!-- generated: r/gone.md -->\n<!-- end generated -->\n")
    assert docs.main(["--root", str(hand_root), str(good), str(bad)]) == 2
    assert "bad.md:1: <!-- generated: r/gone.md -->: no file r/gone.md" in capsys.readouterr().err
    assert good.read_text() == HAND_PAGE
