"""The Quarto book: structure, cross-references, and every chapter executed in a kernel.

Chapter execution is marked ``book`` (deselect with ``-m "not book"``). The harness tests at
the end run on tiny synthetic books in ``tmp_path`` and prove the harness catches failures.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

try:
    from tests import book
except ImportError:  # tests/ is not a package and the rootdir is not on sys.path
    import book

ROOT = book.PROJECT_ROOT
BUILD_DIR = ROOT / "build" / "notebooks"
CELL_TIMEOUT = int(os.environ.get("BOOK_CELL_TIMEOUT", "900"))
CHAPTERS = book.list_chapters(ROOT) if (ROOT / book.CONFIG_FILE).exists() else []
WORKER_FILE = "WorkerRegressionData.csv"
QUARTO_MISSING = "Quarto CLI not on PATH (pip install quarto-cli on a machine with internet access)"


def _listing(items) -> str:
    return "\n".join(f"  {item}" for item in items)


# --------------------------------------------------------------------------- static checks


@pytest.fixture(scope="module")
def book_check() -> book.BookCheck:
    return book.check_book(ROOT)


def test_chapters_listed_exist(book_check):
    assert CHAPTERS, f"{book.CONFIG_FILE} lists no chapters"
    assert not book_check.missing_chapters, (
        f"chapters listed in {book.CONFIG_FILE} but missing:\n"
        + _listing(book_check.missing_chapters)
    )


def test_cross_references_resolve(book_check):
    assert not book_check.unresolved_references, "unresolved cross-references:\n" + _listing(
        f"@{label} at {where}" for label, where in book_check.unresolved_references
    )


def test_citations_resolve(book_check):
    assert not book_check.unresolved_citations, "citation keys not in references.bib:\n" + (
        _listing(f"@{key} at {where}" for key, where in book_check.unresolved_citations)
    )


def test_labels_unique(book_check):
    assert not book_check.duplicate_labels, "labels defined more than once:\n" + _listing(
        f"{label}: {', '.join(map(str, places))}"
        for label, places in book_check.duplicate_labels.items()
    )


def test_figures_have_caption_and_alt(book_check):
    assert not book_check.figures_missing_caption_or_alt, (
        "figures without fig-cap or fig-alt:\n"
        + _listing(
            f"{label} at {where}" for label, where in book_check.figures_missing_caption_or_alt
        )
    )


def test_tables_have_caption(book_check):
    assert not book_check.tables_missing_caption, "tables without tbl-cap:\n" + _listing(
        f"{label} at {where}" for label, where in book_check.tables_missing_caption
    )


# ------------------------------------------------------------------ chapter cells narrate

ARITHMETIC = (ast.BinOp, ast.AugAssign)


def computation_in(source: str, mode: str = "exec") -> list[str]:
    """What in a chapter's code or inline expression computes instead of calling the package:
    arithmetic operators and subscripts of subscripts (``x[a][b]``, ``x[a][:3]``)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines), mode=mode)
    found = []
    for node in ast.walk(tree):
        signed = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)
        if isinstance(node, ARITHMETIC) or (signed and not isinstance(node.operand, ast.Constant)):
            found.append(f"arithmetic: {ast.unparse(node)}")
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Subscript):
            found.append(f"nested subscript: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_cells_hold_no_arithmetic_or_nested_subscripts(chapter):
    document = book.parse_qmd(ROOT / chapter, ROOT)
    problems = []
    for cell in document.code_cells:
        for found in computation_in(book.strip_cell_options(cell.source)):
            problems.append(f"{chapter}:{cell.line} cell: {found}")
    for prose in document.prose:
        for expression in prose.inline_expressions:
            for found in computation_in(expression, mode="eval"):
                problems.append(f"{chapter}:{prose.line} inline `{expression}`: {found}")
    assert not problems, "computation in chapter code:\n" + _listing(problems)


def test_computation_in_finds_arithmetic_and_nested_subscripts():
    assert computation_in("x = a + b") == ["arithmetic: a + b"]
    assert computation_in("total += 1") == ["arithmetic: total += 1"]
    assert computation_in("f(-x)") == ["arithmetic: -x"]
    assert computation_in("d['a']['b']", mode="eval") == ["nested subscript: d['a']['b']"]
    assert computation_in("s['k'][:12]", mode="eval") == ["nested subscript: s['k'][:12]"]
    assert computation_in("%matplotlib inline\nf(r.a['b'].c, -1, 'x-y')") == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapters_include_the_shared_setup(chapter):
    text = (ROOT / chapter).read_text(encoding="utf-8")
    includes = [m.group("path") for line in text.splitlines() if (m := book.INCLUDE.match(line))]
    assert len(includes) == 1 and includes[0].endswith("_setup.qmd"), includes
    document = book.parse_qmd(ROOT / chapter, ROOT)
    loads = [c for c in document.code_cells if "load()" in c.source]
    assert len(loads) == 1 and loads[0].options.get("include") is False


# --------------------------------------------------------------------------- execution


@pytest.fixture(scope="session")
def book_results(quick_results):
    """The results the chapters load, computed once before any chapter runs.

    The book is executed in the quick profile, so that the suite stays within its
    time budget; the code path is the full one. Computing here, not inside a
    kernel, keeps the chapters' own outputs to what they show.
    """
    return quick_results


@pytest.fixture(scope="session")
def executed_chapter(book_results):
    """Execute each chapter at most once per session; later tests reuse the notebook."""
    cache: dict[str, book.ExecutedChapter] = {}

    def run(chapter: str) -> book.ExecutedChapter:
        if not (ROOT / chapter).is_file():
            pytest.fail(f"{chapter} is listed in {book.CONFIG_FILE} but does not exist")
        if chapter not in cache:
            # The kernel inherits the environment: the chapter loads the quick results.
            saved = os.environ.get("ORGANIZING_PROFILE")
            os.environ["ORGANIZING_PROFILE"] = "quick"
            try:
                cache[chapter] = book.execute_chapter(
                    chapter, ROOT, build_dir=BUILD_DIR, cell_timeout=CELL_TIMEOUT
                )
            finally:
                if saved is None:
                    os.environ.pop("ORGANIZING_PROFILE")
                else:
                    os.environ["ORGANIZING_PROFILE"] = saved
        return cache[chapter]

    return run


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapters_execute(chapter, executed_chapter):
    run = executed_chapter(chapter)
    problems = run.errors + run.warnings
    assert not problems, f"executed notebook: {run.path}\n\n" + "\n\n".join(
        problem.describe(chapter) for problem in problems
    )


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_figure_outputs_have_caption_and_alt(chapter, executed_chapter):
    run = executed_chapter(chapter)
    problems = book.figure_outputs_without_caption(run.notebook)
    assert not problems, "\n\n".join(problem.describe(chapter) for problem in problems)


def _worker_ids() -> set[int]:
    data_dir = Path(os.environ.get("ORGANIZING_DATA_DIR") or ROOT / "data")
    path = data_dir / WORKER_FILE
    if not path.is_file():
        pytest.skip(f"{WORKER_FILE} not found in {data_dir} (set ORGANIZING_DATA_DIR)")
    return set(pd.read_csv(path, usecols=["Worker ID"])["Worker ID"].astype(int))


# A column headed "Worker ID": an HTML header cell, or a header line of a plain-text frame.
WORKER_ID_HEADER = re.compile(r"<th[^>]*>\s*Worker ID\s*</th>|^\s*Worker ID\s{2,}", re.M)


def _single_worker_extremes() -> dict[str, set[str]]:
    """Per worker feature, the ways a table or sentence could print its minimum or maximum
    when fewer than k workers hold that value (a single worker's value)."""
    from organizing.config import load_config
    from organizing.data import WORKER_FEATURES

    data_dir = Path(os.environ.get("ORGANIZING_DATA_DIR") or ROOT / "data")
    path = data_dir / WORKER_FILE
    if not path.is_file():
        pytest.skip(f"{WORKER_FILE} not found in {data_dir} (set ORGANIZING_DATA_DIR)")
    k = load_config().disclosure.min_count
    frame = pd.read_csv(path, usecols=list(WORKER_FEATURES))
    out = {}
    for feature in WORKER_FEATURES:
        values = frame[feature].to_numpy(dtype=float)
        for value in (values.min(), values.max()):
            if np.isfinite(value) and np.sum(values == value) < k:
                # as the feature table prints (3 significant digits), and as a count
                texts = {f"{value:.3g}"} | ({f"{value:,.0f}"} if value.is_integer() else set())
                out.setdefault(feature, set()).update(
                    t for text in texts for t in (text, text.replace("-", "\u2212")))
    return out


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_single_workers_extreme_in_outputs(chapter, executed_chapter):
    """No table or sentence prints a worker feature's minimum or maximum held by fewer
    than k workers (issue 25: the most notes about one worker was printed)."""
    extremes = _single_worker_extremes()
    assert extremes.get("No. Notes")  # the scan has something to find on these data
    run = executed_chapter(chapter)
    found = []
    for output in book.output_texts(run.notebook):
        visible = book.visible_text(output.text, output.kind)
        for feature, texts in extremes.items():
            for text in texts:
                if re.search(rf"(?<![\d.,\u2212-]){re.escape(text)}(?![\d.,]\d)", visible):
                    found.append(f"{chapter}:{output.qmd_line}: {feature} = {text}")
    assert not found, "single workers' values in the book:\n" + "\n".join(found)


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_worker_ids_in_outputs(chapter, executed_chapter):
    worker_ids = _worker_ids()
    run = executed_chapter(chapter)
    leaks = []
    for output in book.output_texts(run.notebook):
        visible = book.visible_text(output.text, output.kind)
        found = sorted(book.find_integer_tokens(visible, worker_ids))
        # A table with a Worker ID column; the data chapter may name the column in
        # its documentation of the schema, as a cell, which is not a leak.
        id_column = bool(WORKER_ID_HEADER.search(output.text))
        if id_column or found:
            leaks.append(
                f"{chapter}:{output.qmd_line} ({output.kind}): "
                f"{'a Worker ID column; ' if id_column else ''}"
                f"worker IDs {found[:20]}\n--- source ---\n{output.source.rstrip()}"
            )
    assert not leaks, "worker identifiers in the book's outputs:\n\n" + "\n\n".join(leaks)


@pytest.mark.book
@pytest.mark.skipif(shutil.which("quarto") is None, reason=QUARTO_MISSING)
def test_quarto_render():
    env = {**os.environ, "QUARTO_PYTHON": sys.executable}
    result = subprocess.run(
        ["quarto", "render"],  # every format in _quarto.yml: html and typst
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3 * 3600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-8000:]
    for complaint in ("Unable to resolve crossref", "citation", "not found"):
        bad = [line for line in log.splitlines() if "WARN" in line and complaint in line]
        assert not bad, "\n".join(bad)
    assert (ROOT / "_book" / "index.html").is_file()
    assert list((ROOT / "_book").glob("*.pdf")), "typst render produced no PDF in _book/"


# --------------------------------------------------------------------------- harness tests


def make_book(root: Path, chapters: dict[str, str], **config) -> Path:
    """A minimal book project under ``root`` with the given chapter texts."""
    settings = {
        "project": {"type": "book", "execute-dir": "project"},
        "book": {"title": "Test", "chapters": list(chapters)},
        "jupyter": "python3",
        **config,
    }
    (root / book.CONFIG_FILE).write_text(yaml.safe_dump(settings), encoding="utf-8")
    for name, text in chapters.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_parse_qmd_reads_front_matter_cells_and_inline_expressions():
    document = book.parse_qmd(
        textwrap.dedent(
            """\
            ---
            title: "Data"
            ---

            # Data {#sec-data}

            ```{python}
            #| label: fig-signing
            #| fig-cap: "Signing rates."
            x = 1
            ```

            There are `{python} x` workers and `{python} f"{x:,}"` stores.

            ````markdown
            ```{python}
            not_a_cell = True
            ```
            ````
            """
        )
    )
    assert document.front_matter == {"title": "Data"}
    [cell] = document.code_cells
    assert cell.label == "fig-signing"
    assert cell.options["fig-cap"] == "Signing rates."
    assert cell.line == 7
    assert book.strip_cell_options(cell.source) == "x = 1"
    assert document.inline_expressions == ["x", 'f"{x:,}"']
    assert len(document.prose) == 2  # the fenced ```{python} inside ````markdown is prose


def test_includes_expand_like_quarto(tmp_path):
    make_book(
        tmp_path,
        {
            "index.qmd": """\
                # Preface

                {{< include chapters/_setup.qmd >}}

                Value `{python} x`.
                """,
            "chapters/_setup.qmd": """\
                ```{python}
                #| include: false
                x = 1
                ```

                {{< include _more.qmd >}}
                """,
            "chapters/data.qmd": """\
                # Data {#sec-data}

                {{< include /chapters/_setup.qmd >}}

                ```{python}
                #| label: tbl-x
                #| tbl-cap: "X."
                x
                ```
                """,
            "_more.qmd": "Included from the root, relative to the including chapter.\n",
            "chapters/_more.qmd": "Included relative to chapters/.\n",
        },
    )
    index = book.parse_qmd(tmp_path / "index.qmd", tmp_path)
    [cell] = index.code_cells
    assert cell.options == {"include": False}
    assert index.origin(cell.line) == ("chapters/_setup.qmd", 1)
    assert "relative to the including chapter" in index.prose[-1].text  # _more.qmd at the root
    data = book.parse_qmd(tmp_path / "chapters/data.qmd", tmp_path)
    assert [c.label for c in data.code_cells] == [None, "tbl-x"]
    assert "relative to chapters/" in data.prose[1].text
    assert data.origin(data.code_cells[1].line) == (None, 5)
    assert book.check_book(tmp_path) == book.BookCheck()
    run = book.execute_chapter("chapters/data.qmd", tmp_path, cell_timeout=60)
    assert run.errors == []
    assert run.notebook.cells[1].metadata["qmd_file"] == "chapters/_setup.qmd"


def test_include_must_stand_alone_and_exist(tmp_path):
    make_book(tmp_path, {"index.qmd": "Text\n{{< include _a.qmd >}}\n", "_a.qmd": "A\n"})
    with pytest.raises(book.QmdError, match="surrounded by empty lines"):
        book.parse_qmd(tmp_path / "index.qmd", tmp_path)
    make_book(tmp_path, {"index.qmd": "{{< include _missing.qmd >}}\n"})
    with pytest.raises(book.QmdError, match="not found"):
        book.parse_qmd(tmp_path / "index.qmd", tmp_path)


def test_list_chapters_follows_parts_and_appendices(tmp_path):
    make_book(tmp_path, {})
    config = yaml.safe_load((tmp_path / book.CONFIG_FILE).read_text())
    config["book"]["chapters"] = [
        "index.qmd",
        {"part": "Replication", "chapters": ["chapters/data.qmd", "chapters/methods.qmd"]},
        {"part": "parts/audit.qmd", "chapters": ["chapters/results.qmd"]},
    ]
    config["book"]["appendices"] = ["chapters/extra.qmd"]
    (tmp_path / book.CONFIG_FILE).write_text(yaml.safe_dump(config))
    assert book.list_chapters(tmp_path) == [
        "index.qmd",
        "chapters/data.qmd",
        "chapters/methods.qmd",
        "parts/audit.qmd",
        "chapters/results.qmd",
        "chapters/extra.qmd",
    ]


def test_check_book_accepts_a_sound_book(tmp_path):
    (tmp_path / "refs.bib").write_text("@book{gelman2007,\n  title = {T},\n  year = {2007}\n}\n")
    make_book(
        tmp_path,
        {
            "index.qmd": """\
                # Preface {.unnumbered #sec-preface}

                See @sec-data, @fig-rates, @fig-pair-2, @tbl-counts and @eq-logit [@gelman2007].
                Write to team@example.org; `@fig-not-a-reference` is code.

                $$ y = x $$ {#eq-logit}
                """,
            "chapters/data.qmd": """\
                # Data {#sec-data}

                ```{python}
                #| label: fig-rates
                #| fig-cap: "Rates."
                #| fig-alt: "A bar chart."
                pass
                ```

                ```{python}
                #| label: fig-pair
                #| fig-cap: "Two panels."
                #| fig-alt: "Two bar charts."
                #| fig-subcap: ["Left", "Right"]
                pass
                ```

                ```{python}
                #| label: tbl-counts
                #| tbl-cap: "Counts."
                pass
                ```

                ![A map.](map.png){#fig-map fig-alt="A map of stores."}
                """,
        },
        bibliography="refs.bib",
    )
    assert book.check_book(tmp_path) == book.BookCheck()


def test_check_book_reports_each_kind_of_fault(tmp_path):
    make_book(
        tmp_path,
        {
            "index.qmd": """\
                # Preface {#sec-intro}

                See @fig-missing and @sec-intro, as @nobody2020 says.

                ![](map.png){#fig-map}
                """,
            "chapters/data.qmd": """\
                # Data {#sec-intro}

                ```{python}
                #| label: fig-rates
                #| fig-cap: "Rates, but no alt text."
                pass
                ```

                ```{python}
                #| label: tbl-counts
                pass
                ```
                """,
        },
    )
    config = yaml.safe_load((tmp_path / book.CONFIG_FILE).read_text())
    config["book"]["chapters"].append("chapters/absent.qmd")
    (tmp_path / book.CONFIG_FILE).write_text(yaml.safe_dump(config))

    check = book.check_book(tmp_path)
    assert check.missing_chapters == ["chapters/absent.qmd"]
    assert [(label, str(where)) for label, where in check.unresolved_references] == [
        ("fig-missing", "index.qmd:3")
    ]
    assert {
        label: [str(p) for p in places] for label, places in check.duplicate_labels.items()
    } == {"sec-intro": ["index.qmd:1", "chapters/data.qmd:1"]}
    assert sorted(label for label, _ in check.figures_missing_caption_or_alt) == [
        "fig-map",
        "fig-rates",
    ]
    assert [label for label, _ in check.tables_missing_caption] == ["tbl-counts"]
    assert [key for key, _ in check.unresolved_citations] == ["nobody2020"]


def test_execute_chapter_runs_cells_and_inline_expressions_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_HARNESS_PROBE", "inherited")
    root = make_book(
        tmp_path,
        {
            "index.qmd": "# Index\n",
            "chapters/data.qmd": """\
                ```{python}
                #| label: setup
                import os
                x = 1
                print("cell output", x)
                ```

                First `{python} x`, from `{python} os.getcwd()` with
                `{python} os.environ["BOOK_HARNESS_PROBE"]`.

                ```{python}
                x = 2
                ```

                Then `{python} x * 10`.
                """,
        },
    )
    run = book.execute_chapter("chapters/data.qmd", root, build_dir=root / "build", cell_timeout=60)
    assert run.errors == [] and run.warnings == []
    results = {
        item["expression"]: item["result"]["data"]["text/plain"]
        for cell in run.notebook.cells
        for item in cell.metadata.get("user_expressions", [])
    }
    assert results == {
        "x": "1",
        "os.getcwd()": repr(str(root)),
        'os.environ["BOOK_HARNESS_PROBE"]': "'inherited'",
        "x * 10": "20",
    }
    tagged = [c for c in run.notebook.cells if book.INLINE_TAG in c.metadata.get("tags", [])]
    assert len(tagged) == 2
    texts = [output.text for output in book.output_texts(run.notebook)]
    assert "cell output 1\n" in texts and "20" in texts
    assert run.path == root / "build" / "chapters" / "data.ipynb"
    saved = nbformat.read(run.path, as_version=4)
    assert [o.text for o in book.output_texts(saved)] == texts


def test_execute_chapter_reports_a_failing_cell_and_stops(tmp_path):
    root = make_book(
        tmp_path,
        {
            "index.qmd": """\
                ```{python}
                #| error: true
                raise KeyError("allowed")
                ```

                ```{python}
                def load():
                    raise ValueError("bad data")
                load()
                ```

                ```{python}
                after = True
                ```
                """
        },
    )
    run = book.execute_chapter("index.qmd", root, cell_timeout=60)
    [error] = run.errors
    assert error.qmd_line == 6
    assert "ValueError" in error.output and "bad data" in error.output
    assert 'raise ValueError("bad data")' in error.source
    assert run.notebook.cells[-1].outputs == [] and run.notebook.cells[-1].execution_count is None
    assert "ValueError" in error.describe("index.qmd") and "index.qmd:6" in error.describe(
        "index.qmd"
    )


def test_execute_chapter_reports_a_failing_inline_expression(tmp_path):
    root = make_book(tmp_path, {"index.qmd": "We have `{python} undefined_name` workers.\n"})
    [error] = book.execute_chapter("index.qmd", root, cell_timeout=60).errors
    assert "undefined_name" in error.output and "NameError" in error.output


def test_warnings_in_cells_and_inline_expressions_are_caught(tmp_path):
    root = make_book(
        tmp_path,
        {
            "index.qmd": """\
                ```{python}
                import warnings
                warnings.warn("cell warning")
                def noisy():
                    warnings.warn("inline warning", FutureWarning)
                    return 3
                ```

                A value: `{python} noisy()`.

                ```{python}
                print("UserWarning: printed to stdout")
                ```
                """
        },
    )
    run = book.execute_chapter("index.qmd", root, cell_timeout=60)
    assert run.errors == []
    messages = " ".join(problem.output for problem in run.warnings)
    assert "cell warning" in messages
    assert "inline warning" in messages
    assert "printed to stdout" in messages
    assert [p.qmd_line for p in run.warnings] == [1, 9, 11]


def test_output_texts_skip_images_and_read_html_and_inline_results():
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show()")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
        ),
        nbformat.v4.new_output("display_data", data={"text/html": "<td>11439</td>"}),
    ]
    markdown = nbformat.v4.new_markdown_cell("`{python} n`")
    markdown.metadata["user_expressions"] = [
        {"expression": "n", "result": {"status": "ok", "data": {"text/plain": "42"}}}
    ]
    notebook.cells = [cell, markdown]
    texts = [(o.kind, o.text) for o in book.output_texts(notebook)]
    assert texts == [
        ("text/plain", "<Figure>"),
        ("text/html", "<td>11439</td>"),
        ("inline:text/plain", "42"),
    ]


def test_figure_outputs_without_caption_are_reported():
    notebook = nbformat.v4.new_notebook()
    image = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})
    captioned = nbformat.v4.new_code_cell('#| label: fig-a\n#| fig-cap: "A."\n#| fig-alt: "a"\nf()')
    bare = nbformat.v4.new_code_cell("f()")
    captioned.outputs, bare.outputs = [image], [image]
    notebook.cells = [captioned, bare]
    assert [p.cell_index for p in book.figure_outputs_without_caption(notebook)] == [1]


@pytest.mark.parametrize(
    ("text", "kind", "found"),
    [
        ("worker 11439 signed", "text/plain", {11439}),
        ("   Worker\n0  11439\n1  1780", "text/plain", {11439, 1780}),
        ("<tr><td>11439</td></tr>", "text/html", {11439}),
        ("11,439 workers and 0.11439 and 11439.5", "text/plain", set()),
        ("x11439 and 11439_a", "text/plain", set()),
        (
            '<style>.gt {width: 11439px; color: #2010ff}</style><p style="w:1780">x</p>',
            "text/html",
            set(),
        ),
        ("the 2010-2015 campaign and 2010\u20132015", "text/plain", set()),
        ("in 2010 alone", "text/plain", {2010}),
    ],
)
def test_find_integer_tokens(text, kind, found):
    worker_ids = {11439, 1780, 2010, 2015}
    assert book.find_integer_tokens(book.visible_text(text, kind), worker_ids) == found


def test_worker_id_column_header_is_recognized():
    assert WORKER_ID_HEADER.search('<table><tr><th class="c">Worker ID</th></tr></table>')
    assert WORKER_ID_HEADER.search("   Worker ID  Signed\n0     17      1")
    assert not WORKER_ID_HEADER.search("<td>Worker ID</td><td>key; never shown</td>")
