"""Run and check a Quarto book the way Quarto's Jupyter engine does, without Quarto.

Quarto turns a chapter into a notebook: one markdown cell per stretch of prose and one
code cell per ```` ```{python} ```` block, in document order. It executes the cells in a
fresh kernel whose working directory is the project root (``execute-dir: project``), and
when it reaches a markdown cell it evaluates that cell's inline expressions
(`` `{python} expr` ``, Quarto >= 1.4) through the kernel's ``user_expressions``, so an
inline expression sees the state left by the code above it (quarto-cli,
``src/resources/jupyter/notebook.py``, ``cell_execute_inline``). This module does the same
with nbclient, writes the executed notebooks for inspection, and statically checks
cross-references, labels, captions and citations across the whole book.

Include shortcodes (``{{< include _setup.qmd >}}``) are expanded first, as Quarto does:
the shortcode must stand alone on its line between blank lines; the included text is
pasted in its place; a relative path resolves against the directory of the *including
chapter* (also for includes nested in an included file), a path starting with ``/``
against the project root (quarto-web, docs/authoring/includes.qmd).

Main entry points: ``list_chapters``, ``expand_includes``, ``parse_qmd``,
``execute_chapter``, ``check_book``, ``output_texts``, ``find_warnings`` and
``find_integer_tokens``.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILE = "_quarto.yml"
INLINE_TAG = "inline-expressions"

# Cross-reference kinds Quarto resolves with `@kind-name`; any other `@key` is a citation.
CROSSREF_KINDS = (
    "fig",
    "tbl",
    "sec",
    "eq",
    "lst",
    "thm",
    "lem",
    "cor",
    "prp",
    "cnj",
    "def",
    "exm",
    "exr",
    "nte",
    "tip",
    "wrn",
    "imp",
    "cau",
)
_KIND = "|".join(CROSSREF_KINDS)

# Quarto's own pattern for inline expressions (quarto-cli notebook.py).
INLINE_EXPRESSION = re.compile(r"(?:^|[^`])`\{python\}[ \t]([^`]+)`", re.MULTILINE)
FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
EXECUTABLE_INFO = re.compile(r"^\{python(?:[\s,][^}]*)?\}\s*$")
CELL_OPTION = re.compile(r"^#\s*\| ?")
CROSS_REFERENCE = re.compile(rf"(?<![\w@])@(?P<label>(?:{_KIND})-[\w.:-]*\w)")
CITATION = re.compile(r"(?<![\w@])@(?P<key>[A-Za-z0-9_][\w:.#$%&+?<>~/-]*\w|[A-Za-z0-9_])")
ATTRIBUTE_BLOCK = re.compile(r"\{(?P<attributes>[^{}\n]*)\}")
ATTRIBUTE_ID = re.compile(r"(?:^|\s)#(?P<id>[\w.:-]+)")
IMAGE = re.compile(r"!\[(?P<caption>[^\]]*)\]\([^)]*\)\{(?P<attributes>[^{}\n]*)\}")
BIB_ENTRY = re.compile(r"^\s*@(?P<type>\w+)\s*\{\s*(?P<key>[^,\s]+)\s*,", re.MULTILINE)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
WARNING_TEXT = re.compile(r"\w*Warning:")
TEXT_MIMETYPES = ("text/plain", "text/markdown", "text/html", "text/latex")
INCLUDE = re.compile(
    r"^\s*\{\{<\s*include\s+(?P<quote>[\"']?)(?P<path>[^\"'>\s]+)(?P=quote)\s*>\}\}\s*$"
)
MAX_INCLUDE_DEPTH = 10


class QmdError(ValueError):
    """A .qmd file that Quarto could not parse either."""


# --------------------------------------------------------------------------- book structure


def read_config(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The parsed ``_quarto.yml`` of the project at ``root``."""
    return yaml.safe_load((Path(root) / CONFIG_FILE).read_text(encoding="utf-8")) or {}


def list_chapters(root: Path = PROJECT_ROOT) -> list[str]:
    """The book's .qmd files in reading order, as posix paths relative to ``root``.

    Follows ``book.chapters`` (plain entries, ``part:`` entries whose ``part`` may itself be
    a .qmd file, and their nested ``chapters``), then ``book.appendices``.
    """
    book = read_config(root).get("book") or {}
    chapters: list[str] = []

    def add(entries: Iterable[Any]) -> None:
        for entry in entries or []:
            if isinstance(entry, str):
                chapters.append(entry)
            elif isinstance(entry, dict):
                part = entry.get("part")
                if isinstance(part, str) and part.endswith((".qmd", ".md", ".ipynb")):
                    chapters.append(part)
                for key in ("href", "file"):
                    if isinstance(entry.get(key), str):
                        chapters.append(entry[key])
                add(entry.get("chapters"))

    add(book.get("chapters"))
    add(book.get("appendices"))
    return chapters


def kernel_name(root: Path = PROJECT_ROOT) -> str:
    """The Jupyter kernel named by the ``jupyter`` key of ``_quarto.yml`` (default python3)."""
    jupyter = read_config(root).get("jupyter", "python3")
    if isinstance(jupyter, dict):
        return jupyter.get("kernelspec", {}).get("name", "python3")
    return jupyter if isinstance(jupyter, str) else "python3"


# --------------------------------------------------------------------------- parsing .qmd


@dataclass(frozen=True)
class CodeCell:
    """An executable ```{python} block; ``line`` is its opening fence (1-based)."""

    source: str
    options: dict[str, Any]
    line: int

    @property
    def label(self) -> str | None:
        label = self.options.get("label")
        return str(label) if label is not None else None


@dataclass(frozen=True)
class Prose:
    """Markdown between code cells. ``scan_text`` has verbatim code and comments blanked."""

    text: str
    scan_text: str
    line: int

    @property
    def inline_expressions(self) -> list[str]:
        return [match.strip() for match in INLINE_EXPRESSION.findall(self.text)]

    def line_of(self, offset: int) -> int:
        return self.line + self.scan_text.count("\n", 0, offset)


@dataclass
class QmdDocument:
    """A parsed chapter. Line numbers of blocks count lines of the text after includes were
    expanded; ``origins[line - 1]`` is the (file, line) each expanded line came from."""

    path: Path | None
    front_matter: dict[str, Any]
    blocks: list[CodeCell | Prose]
    origins: list[tuple[str, int]] = field(default_factory=list)

    def origin(self, line: int) -> tuple[str | None, int]:
        """The file (None: the chapter itself) and line that expanded line ``line`` came from."""
        if 1 <= line <= len(self.origins):
            name, original = self.origins[line - 1]
            own = self.path is not None and name == self.path.name
            return (None if own or not name else name), original
        return None, line

    @property
    def code_cells(self) -> list[CodeCell]:
        return [block for block in self.blocks if isinstance(block, CodeCell)]

    @property
    def prose(self) -> list[Prose]:
        return [block for block in self.blocks if isinstance(block, Prose)]

    @property
    def inline_expressions(self) -> list[str]:
        return [expr for block in self.prose for expr in block.inline_expressions]


def cell_option_lines(source: str) -> list[str]:
    """The leading ``#| key: value`` lines of a cell, without their ``#|`` prefix."""
    lines = []
    for line in source.splitlines():
        match = CELL_OPTION.match(line)
        if not match:
            break
        lines.append(line[match.end() :])
    return lines


def cell_options(source: str) -> dict[str, Any]:
    """The YAML options at the top of a cell (``{}`` when there are none)."""
    lines = cell_option_lines(source)
    if not lines:
        return {}
    options = yaml.safe_load("\n".join(lines))
    if not isinstance(options, dict):
        raise QmdError(f"cell options are not a YAML mapping: {lines!r}")
    return options


def strip_cell_options(source: str) -> str:
    """The cell source without its option lines, as Quarto executes it."""
    count = len(cell_option_lines(source))
    return "\n".join(source.splitlines()[count:])


def _blank_verbatim(text: str) -> str:
    """Blank inline code and HTML comments, keeping newlines so line numbers stay right."""

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    return INLINE_CODE.sub(blank, HTML_COMMENT.sub(blank, text))


def find_root(path: Path) -> Path:
    """The project root of a .qmd: the nearest folder above it with a ``_quarto.yml``."""
    for folder in Path(path).resolve().parents:
        if (folder / CONFIG_FILE).is_file():
            return folder
    return PROJECT_ROOT


def expand_includes(
    text: str, base: Path, root: Path, name: str = "", _depth: int = 0
) -> tuple[str, list[tuple[str, int]]]:
    """The text with every include shortcode replaced by the included file, as Quarto does.

    ``base`` is the directory of the including chapter (relative includes, also nested
    ones, resolve against it); ``root`` the project root (paths starting with ``/``).
    Returns the expanded text and, per expanded line, the (file name, line) it came from,
    file names relative to ``root``.
    """
    if _depth > MAX_INCLUDE_DEPTH:
        raise QmdError(f"{name}: includes nested more than {MAX_INCLUDE_DEPTH} deep")
    lines = text.splitlines()
    out: list[str] = []
    origins: list[tuple[str, int]] = []
    for number, line in enumerate(lines, start=1):
        match = INCLUDE.match(line)
        if not match:
            out.append(line)
            origins.append((name, number))
            continue
        before = lines[number - 2] if number > 1 else ""
        after = lines[number] if number < len(lines) else ""
        if before.strip() or after.strip():
            raise QmdError(
                f"{name}:{number}: an include shortcode must be surrounded by empty lines"
            )
        target = match.group("path")
        path = (Path(root) / target.lstrip("/")) if target.startswith("/") else base / target
        if not path.is_file():
            raise QmdError(f"{name}:{number}: included file {target!r} not found ({path})")
        try:
            shown = path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            shown = str(path)
        body, body_origins = expand_includes(
            path.read_text(encoding="utf-8"), base, root, shown, _depth + 1
        )
        out.extend(body.splitlines())
        origins.extend(body_origins)
    return "\n".join(out), origins


def parse_qmd(source: str | Path, root: Path | None = None) -> QmdDocument:
    """Split a .qmd (a path, or its text) into front matter, prose and python cells.

    Include shortcodes are expanded first (:func:`expand_includes`); a text given directly
    resolves its includes against ``root`` (default: the project root).
    """
    path = Path(source) if isinstance(source, Path) else None
    text = path.read_text(encoding="utf-8") if path else str(source)
    where = str(path) if path else "<qmd>"
    root = Path(root) if root is not None else (find_root(path) if path else PROJECT_ROOT)
    base = path.parent if path else root
    text, origins = expand_includes(text, base, root, path.name if path else "")
    lines = text.splitlines()

    front_matter: dict[str, Any] = {}
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is None:
            raise QmdError(f"{where}: front matter is not closed")
        front_matter = yaml.safe_load("\n".join(lines[1:end])) or {}
        start = end + 1

    blocks: list[CodeCell | Prose] = []
    prose_lines: list[str] = []
    scan_lines: list[str] = []
    prose_start = start + 1

    def flush(next_line: int) -> None:
        nonlocal prose_lines, scan_lines, prose_start
        while prose_lines and not prose_lines[0].strip():  # start at the first written line
            prose_lines, scan_lines, prose_start = prose_lines[1:], scan_lines[1:], prose_start + 1
        if prose_lines:
            blocks.append(
                Prose("\n".join(prose_lines), _blank_verbatim("\n".join(scan_lines)), prose_start)
            )
        prose_lines, scan_lines, prose_start = [], [], next_line

    i = start
    while i < len(lines):
        opening = FENCE_OPEN.match(lines[i])
        if not opening:
            prose_lines.append(lines[i])
            scan_lines.append(lines[i])
            i += 1
            continue
        fence = opening.group("fence")
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j])), None)
        if end is None:
            raise QmdError(f"{where}:{i + 1}: code fence {fence!r} is not closed")
        body = lines[i + 1 : end]
        if EXECUTABLE_INFO.match(opening.group("info").strip()):
            flush(end + 2)
            source = "\n".join(body)
            try:
                options = cell_options(source)
            except (yaml.YAMLError, QmdError) as error:
                raise QmdError(f"{where}:{i + 1}: bad cell options: {error}") from error
            blocks.append(CodeCell(source, options, i + 1))
        else:
            # Verbatim block: part of the prose, but never scanned for references.
            prose_lines.extend(lines[i : end + 1])
            scan_lines.extend([""] * (end + 1 - i))
        i = end + 1
    flush(len(lines) + 1)
    return QmdDocument(path, front_matter, blocks, origins)


# --------------------------------------------------------------------------- notebooks


def build_notebook(document: QmdDocument, kernel: str = "python3") -> nbformat.NotebookNode:
    """The notebook Quarto would execute: prose as markdown cells, python blocks as code.

    Markdown cells holding inline expressions carry the tag ``inline-expressions``; every
    cell records the .qmd line it starts on in ``metadata.qmd_line``.
    """
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    for block in document.blocks:
        if isinstance(block, CodeCell):
            cell = nbformat.v4.new_code_cell(block.source)
        else:
            cell = nbformat.v4.new_markdown_cell(block.text)
            if block.inline_expressions:
                cell.metadata["tags"] = [INLINE_TAG]
        file, line = document.origin(block.line)
        cell.metadata["qmd_line"] = line
        if file:
            cell.metadata["qmd_file"] = file
        notebook.cells.append(cell)
    return notebook


@dataclass(frozen=True)
class CellProblem:
    """An error or a warning found in one cell of an executed chapter."""

    kind: str  # "error" or "warning"
    cell_index: int
    qmd_line: int | None
    source: str
    output: str

    def describe(self, chapter: str = "") -> str:
        where = f"{chapter}:{self.qmd_line}" if chapter else f"line {self.qmd_line}"
        return (
            f"{self.kind} in {where} (notebook cell {self.cell_index})\n"
            f"--- source ---\n{self.source.rstrip()}\n--- output ---\n{self.output.rstrip()}"
        )


def _problem(kind: str, index: int, cell: Any, output: str) -> CellProblem:
    return CellProblem(kind, index, cell.metadata.get("qmd_line"), cell.source, output)


async def _collect_iopub_outputs(client: NotebookClient, msg_id: str) -> list[Any]:
    """Stream and error outputs the kernel published for ``msg_id``, until it is idle."""
    outputs = []
    while True:
        msg = await ensure_async(client.kc.get_iopub_msg(timeout=client.iopub_timeout or 60))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            outputs.append(
                nbformat.v4.new_output("stream", name=content["name"], text=content["text"])
            )
        elif kind == "error":
            outputs.append(nbformat.v4.new_output("error", **content))
        elif kind == "status" and content["execution_state"] == "idle":
            return outputs


_collect_iopub_outputs_sync = run_sync(_collect_iopub_outputs)


def _evaluate_inline(client: NotebookClient, index: int, cell: Any) -> CellProblem | None:
    """Evaluate a markdown cell's inline expressions as Quarto does (``user_expressions``).

    Results go to ``metadata.user_expressions`` (Quarto's layout) and anything the kernel
    printed meanwhile, such as warnings, to ``metadata.inline_outputs``.
    """
    expressions = [match.strip() for match in INLINE_EXPRESSION.findall(cell.source)]
    requests = {str(i): expr for i, expr in enumerate(expressions)}
    msg_id = client.kc.execute("", store_history=False, user_expressions=requests)
    reply = client.wait_for_reply(msg_id)
    cell.metadata["inline_outputs"] = _collect_iopub_outputs_sync(client, msg_id)
    content = reply["content"]
    if content.get("status") != "ok":
        return _problem("error", index, cell, f"{content.get('ename')}: {content.get('evalue')}")
    results = []
    for key, expr in requests.items():
        result = content["user_expressions"][key]
        if result.get("status") != "ok":
            return _problem(
                "error",
                index,
                cell,
                f"inline expression `{expr}` raised {result.get('ename')}: {result.get('evalue')}",
            )
        results.append({"expression": expr, "result": result})
    cell.metadata["user_expressions"] = results
    return None


def execute_notebook(
    notebook: nbformat.NotebookNode,
    root: Path = PROJECT_ROOT,
    *,
    cell_timeout: int = 600,
    startup_timeout: int = 120,
) -> list[CellProblem]:
    """Execute ``notebook`` in place in a fresh kernel started in ``root``.

    The kernel inherits this process's environment. Like Quarto, execution stops at the
    first error unless the cell sets ``error: true``; cells with ``eval: false`` are
    skipped. Returns the errors (an empty list when everything ran).
    """
    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        startup_timeout=startup_timeout,
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str(root)}},
    )
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            try:
                problem = _execute_cell(client, index, cell)
            except (CellTimeoutError, DeadKernelError, TimeoutError) as error:
                problem = _problem("error", index, cell, f"{type(error).__name__}: {error}")
            if problem:
                return [problem]
    return []


def _execute_cell(client: NotebookClient, index: int, cell: Any) -> CellProblem | None:
    if cell.cell_type == "markdown":
        if INLINE_TAG in cell.metadata.get("tags", []):
            return _evaluate_inline(client, index, cell)
        return None
    options = cell_options(cell.source)
    if options.get("eval", True) is False:
        return None
    source = cell.source
    cell.source = strip_cell_options(source)  # as Quarto does, so cell magics work
    try:
        client.execute_cell(cell, index)
    finally:
        cell.source = source
    errors = [output for output in cell.outputs if output.output_type == "error"]
    if errors and not options.get("error", False):
        return _problem("error", index, cell, "\n".join(_error_text(error) for error in errors))
    return None


def _error_text(output: Any) -> str:
    traceback = "\n".join(output.get("traceback", []))
    return ANSI_ESCAPE.sub("", traceback) or f"{output.get('ename')}: {output.get('evalue')}"


def notebook_path(build_dir: Path, chapter: str) -> Path:
    """Where the executed notebook of ``chapter`` goes: ``chapters/data.qmd`` ->
    ``<build_dir>/chapters/data.ipynb``."""
    return Path(build_dir) / Path(chapter).with_suffix(".ipynb")


@dataclass
class ExecutedChapter:
    chapter: str
    notebook: nbformat.NotebookNode
    errors: list[CellProblem]
    path: Path | None = None

    @property
    def warnings(self) -> list[CellProblem]:
        return find_warnings(self.notebook)


def execute_chapter(
    chapter: str,
    root: Path = PROJECT_ROOT,
    *,
    build_dir: Path | None = None,
    cell_timeout: int = 600,
) -> ExecutedChapter:
    """Parse, build and execute one chapter; write the executed notebook under build_dir."""
    document = parse_qmd(Path(root) / chapter, Path(root))
    notebook = build_notebook(document, kernel_name(root))
    errors = execute_notebook(notebook, Path(root), cell_timeout=cell_timeout)
    path = None
    if build_dir is not None:
        path = notebook_path(build_dir, chapter)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, path)
    return ExecutedChapter(chapter, notebook, errors, path)


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class OutputText:
    """One textual output of an executed notebook, with where it came from."""

    cell_index: int
    qmd_line: int | None
    source: str
    kind: str  # "stream:stdout", "stream:stderr", "error", a MIME type, or "inline:<mime>"
    text: str


def _join(text: str | list[str]) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def _texts_of_output(output: Any) -> Iterator[tuple[str, str]]:
    if output.output_type == "stream":
        yield f"stream:{output.name}", _join(output.text)
    elif output.output_type == "error":
        yield "error", _error_text(output)
    elif output.output_type in ("display_data", "execute_result"):
        for mime in TEXT_MIMETYPES:
            if mime in output.get("data", {}):
                yield mime, _join(output.data[mime])


def output_texts(notebook: nbformat.NotebookNode) -> Iterator[OutputText]:
    """Every textual output, images skipped: cell outputs and inline expression results."""
    for index, cell in enumerate(notebook.cells):
        line = cell.metadata.get("qmd_line")
        outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
        outputs = list(outputs) + list(cell.metadata.get("inline_outputs", []))
        for output in outputs:
            for kind, text in _texts_of_output(nbformat.from_dict(output)):
                yield OutputText(index, line, cell.source, kind, text)
        for item in cell.metadata.get("user_expressions", []):
            data = item["result"].get("data", {})
            for mime in TEXT_MIMETYPES:
                if mime in data:
                    yield OutputText(
                        index, line, item["expression"], f"inline:{mime}", _join(data[mime])
                    )


def find_warnings(notebook: nbformat.NotebookNode) -> list[CellProblem]:
    """Outputs written to stderr or containing ``...Warning:``, one problem per output."""
    problems = []
    for text in output_texts(notebook):
        if text.kind.endswith("stderr") or WARNING_TEXT.search(text.text):
            cell = notebook.cells[text.cell_index]
            problems.append(
                CellProblem("warning", text.cell_index, text.qmd_line, cell.source, text.text)
            )
    return problems


def figure_outputs_without_caption(notebook: nbformat.NotebookNode) -> list[CellProblem]:
    """Cells that display an image without being a labelled figure with caption and alt."""
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        shows_image = any(
            any(mime.startswith("image/") for mime in output.get("data", {}))
            for output in cell.outputs
        )
        options = cell_options(cell.source)
        labelled = str(options.get("label", "")).startswith("fig-")
        if shows_image and not (labelled and options.get("fig-cap") and options.get("fig-alt")):
            problems.append(
                _problem(
                    "figure", index, cell, "image output without fig- label, fig-cap and fig-alt"
                )
            )
    return problems


# Year ranges such as "2010-2015" name the campaign period, not a worker.
YEAR_RANGE = re.compile(r"(?<!\d)(?:19|20)\d\d\s*[-\u2013\u2014]\s*(?:19|20)\d\d(?!\d)")
INTEGER_TOKEN = re.compile(r"(?<![\w.,#])\d+(?![\w.,])")


def visible_text(text: str, kind: str) -> str:
    """The text a reader sees: HTML without tags, styles and scripts; other kinds as is."""
    if kind.endswith("text/html"):
        text = re.sub(r"<(style|script)\b.*?</\1>", " ", text, flags=re.DOTALL | re.IGNORECASE)
        text = html.unescape(re.sub(r"<[^>]*>", " ", text))
    return text


def find_integer_tokens(text: str, candidates: set[int]) -> set[int]:
    """Integers of ``candidates`` that appear in ``text`` as bare tokens.

    A token is a run of digits not adjacent to a letter, digit, underscore, comma or
    period (and not preceded by ``#``): ``11439`` and ``<td>11439</td>`` count, while
    ``11,439``, ``0.11439``, ``#2010ff`` and the year range ``2010-2015`` do not.
    """
    text = YEAR_RANGE.sub(" ", text)
    return {int(token) for token in INTEGER_TOKEN.findall(text)} & candidates


# --------------------------------------------------------------------------- static checks


@dataclass(frozen=True)
class Location:
    chapter: str
    line: int

    def __str__(self) -> str:
        return f"{self.chapter}:{self.line}"


@dataclass
class BookCheck:
    """Everything the static checks found; each list is empty for a sound book."""

    missing_chapters: list[str] = field(default_factory=list)
    unresolved_references: list[tuple[str, Location]] = field(default_factory=list)
    duplicate_labels: dict[str, list[Location]] = field(default_factory=dict)
    figures_missing_caption_or_alt: list[tuple[str, Location]] = field(default_factory=list)
    tables_missing_caption: list[tuple[str, Location]] = field(default_factory=list)
    unresolved_citations: list[tuple[str, Location]] = field(default_factory=list)


def _location(document: QmdDocument, chapter: str, line: int) -> Location:
    """Where an expanded line is written: the chapter, or the file it includes."""
    file, original = document.origin(line)
    return Location(file or chapter, original)


def _attribute_ids(text: str) -> Iterator[tuple[str, int]]:
    for block in ATTRIBUTE_BLOCK.finditer(text):
        for match in ATTRIBUTE_ID.finditer(block.group("attributes")):
            yield match.group("id"), block.start()


def document_labels(document: QmdDocument, chapter: str) -> list[tuple[str, Location]]:
    """Cross-reference labels a chapter defines: cell ``label`` options (with their
    ``-1``, ``-2``... subfigure/subtable labels) and ``{#kind-...}`` attributes."""
    labels = []
    for cell in document.code_cells:
        label = cell.label
        if label and label.split("-", 1)[0] in CROSSREF_KINDS:
            labels.append((label, _location(document, chapter, cell.line)))
            subcaptions = cell.options.get(f"{label.split('-', 1)[0]}-subcap")
            if isinstance(subcaptions, list):
                labels += [
                    (f"{label}-{n}", _location(document, chapter, cell.line))
                    for n in range(1, len(subcaptions) + 1)
                ]
    for prose in document.prose:
        for label, offset in _attribute_ids(prose.scan_text):
            if label.split("-", 1)[0] in CROSSREF_KINDS:
                labels.append((label, _location(document, chapter, prose.line_of(offset))))
    return labels


def document_references(document: QmdDocument, chapter: str) -> list[tuple[str, Location]]:
    """``@kind-name`` cross-references in a chapter's prose (not in code)."""
    return [
        (match.group("label"), _location(document, chapter, prose.line_of(match.start())))
        for prose in document.prose
        for match in CROSS_REFERENCE.finditer(prose.scan_text)
    ]


def document_citations(document: QmdDocument, chapter: str) -> list[tuple[str, Location]]:
    """``@key`` citations in a chapter's prose: every ``@`` reference that is not a
    cross-reference kind."""
    citations = []
    for prose in document.prose:
        for match in CITATION.finditer(prose.scan_text):
            key = match.group("key")
            if key.split("-", 1)[0] not in CROSSREF_KINDS or "-" not in key:
                citations.append(
                    (key, _location(document, chapter, prose.line_of(match.start())))
                )
    return citations


def bibliography_keys(root: Path = PROJECT_ROOT) -> set[str]:
    """Entry keys of every bibliography file named in ``_quarto.yml``."""
    files = read_config(root).get("bibliography") or []
    keys: set[str] = set()
    for name in [files] if isinstance(files, str) else files:
        path = Path(root) / name
        if path.exists():
            text = path.read_text(encoding="utf-8")
            keys |= {
                m.group("key")
                for m in BIB_ENTRY.finditer(text)
                if m.group("type").lower() not in ("comment", "string", "preamble")
            }
    return keys


def check_book(root: Path = PROJECT_ROOT) -> BookCheck:
    """Check the whole book statically: chapters exist, every cross-reference resolves to
    exactly one label somewhere in the book, figure cells have ``fig-cap`` and ``fig-alt``,
    table cells have ``tbl-cap``, labelled images have a caption and ``fig-alt``, and every
    citation key is in the bibliography."""
    root = Path(root)
    report = BookCheck()
    labels: dict[str, list[Location]] = defaultdict(list)
    references: list[tuple[str, Location]] = []
    citations: list[tuple[str, Location]] = []
    for chapter in list_chapters(root):
        if not (root / chapter).is_file():
            report.missing_chapters.append(chapter)
            continue
        document = parse_qmd(root / chapter, root)
        for label, location in document_labels(document, chapter):
            labels[label].append(location)
        references += document_references(document, chapter)
        citations += document_citations(document, chapter)
        for cell in document.code_cells:
            label, where = cell.label or "", _location(document, chapter, cell.line)
            if label.startswith("fig-") and not (
                cell.options.get("fig-cap") and cell.options.get("fig-alt")
            ):
                report.figures_missing_caption_or_alt.append((label, where))
            if label.startswith("tbl-") and not cell.options.get("tbl-cap"):
                report.tables_missing_caption.append((label, where))
        for prose in document.prose:
            for image in IMAGE.finditer(prose.scan_text):
                attributes = image.group("attributes")
                ids = [m.group("id") for m in ATTRIBUTE_ID.finditer(attributes)]
                if any(i.startswith("fig-") for i in ids) and not (
                    image.group("caption").strip() and "fig-alt=" in attributes
                ):
                    where = _location(document, chapter, prose.line_of(image.start()))
                    report.figures_missing_caption_or_alt.append((ids[0], where))
    report.unresolved_references = [(ref, loc) for ref, loc in references if ref not in labels]
    report.duplicate_labels = {label: locs for label, locs in labels.items() if len(locs) > 1}
    keys = bibliography_keys(root)
    report.unresolved_citations = [(key, loc) for key, loc in citations if key not in keys]
    return report
