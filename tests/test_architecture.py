"""The package's imports flow one way (no cycle, no layer imports a later one), and the
pipeline's declared stages read only what earlier stages computed."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from organizing import LAYERS as STAGES
from organizing.pipeline import STAGES as PIPELINE
from organizing.pipeline.context import Context

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "organizing"



def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports (anywhere in the file)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        tree = ast.parse(path.read_text())
        # every import counts, those for type checkers too: a cycle there is still a cycle
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    "organizing"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("organizing")}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def stage_of(module: str) -> int | None:
    parts = module.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 and parts[1] in STAGES else None


def test_every_module_belongs_to_a_stage():
    assert {m for m in import_graph() if m != "organizing" and stage_of(m) is None} == set()


def test_no_stage_imports_a_later_one():
    arrows = [(m, t) for m, targets in import_graph().items() for t in targets
              if stage_of(m) is not None and stage_of(t) is not None
              and stage_of(t) > stage_of(m)]
    assert arrows == []


def test_no_import_cycle():
    graph = import_graph()
    # A package's __init__ re-exports its own submodules: not an arrow between stages.
    edges = {m: {t for t in ts if not t.startswith(m + ".") and not m.startswith(t + ".")}
             for m, ts in graph.items()}
    visiting, done = [], set()

    def visit(node):
        assert node not in visiting, " -> ".join(visiting[visiting.index(node):] + [node])
        if node in done:
            return
        visiting.append(node)
        for target in sorted(edges[node]):
            visit(target)
        visiting.pop()
        done.add(node)

    for node in sorted(edges):
        visit(node)


def test_results_and_report_load_without_modelling_libraries():
    import subprocess
    import sys

    report = sorted(p.stem for p in (PACKAGE / "report").glob("*.py") if p.stem != "__init__")
    code = ("import sys, importlib; import organizing.results.sections, organizing.pipeline; "
            f"[importlib.import_module('organizing.report.' + m) for m in {report!r}]; "
            "heavy = {'torch', 'pyro', 'jax', 'numpyro', 'arviz'} & set(sys.modules); "
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_publishing_workflow_runs_the_readme_command():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "publish.yml").read_text())
    steps = workflow["jobs"]["publish"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("quarto-dev/quarto-actions/setup@") for u in uses)
    assert any(u.startswith("quarto-dev/quarto-actions/publish@") for u in uses)
    runs = " ".join(s.get("run", "") for s in steps)
    assert "make report" in runs and "make report" in (ROOT / "README.md").read_text()


#: Context fields that are not products of a stage: the data and the settings.
INPUTS = {"campaign", "config", "progress", "designs", "train", "test"}
#: Properties of the context and the product they read.
DERIVED = {"headline_draws": "nuts"}


def _context_reads(function) -> set[str]:
    """The context fields a stage function reads (``ctx.<field>`` anywhere in its body)."""
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
             and isinstance(node.value, ast.Name) and node.value.id == "ctx"}
    return {DERIVED.get(name, name) for name in names} - INPUTS


def test_pipeline_stages_are_declared_in_order():
    from dataclasses import fields

    products = {f.name for f in fields(Context)} - INPUTS
    # every product is filled by exactly one stage, and every stage has a unique name
    assert sorted(stage.field for stage in PIPELINE) == sorted(products)
    assert len({stage.name for stage in PIPELINE}) == len(PIPELINE)
    filled = set()
    for stage in PIPELINE:
        assert set(stage.reads) <= filled, (stage.name, set(stage.reads) - filled)
        # a stage reads only the products it declares (never another stage's locals)
        assert _context_reads(stage.compute) <= set(stage.reads), stage.name
        filled.add(stage.field)


def test_the_stage_check_catches_an_undeclared_read():
    def stage(ctx):
        return ctx.nuts.draws, ctx.headline_draws, ctx.config.seed

    assert _context_reads(stage) == {"nuts"}


HEAVY = {"torch", "pyro", "jax", "jaxlib", "numpyro", "arviz"}


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The modules a file imports: every import, or only those that run on import (the
    module body, not inside functions, nor under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text())
    if top_level_only:
        nodes = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        nodes += [n for block in tree.body if isinstance(block, ast.With | ast.Try)
                  for n in ast.walk(block) if isinstance(n, ast.Import | ast.ImportFrom)]
    else:
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    names = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


def test_no_report_module_can_load_a_modelling_library():
    """Whatever a report function imports, even inside a function, loads neither torch nor
    JAX nor ArviZ: the modules it names, and everything they import on import."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    on_import = {name: _imports(path, top_level_only=True) for name, path in modules.items()}

    def heavy_closure(start: set[str]) -> set[str]:
        seen, stack, found = set(), list(start), set()
        while stack:
            name = stack.pop()
            if name.split(".")[0] in HEAVY:
                found.add(name.split(".")[0])
            targets = [name] if name in modules else []
            # importing organizing.a.b runs organizing/__init__ and organizing/a/__init__
            parts = name.split(".")
            targets += [".".join(parts[:i]) for i in range(1, len(parts))
                        if ".".join(parts[:i]) in modules]
            for target in targets:
                if target not in seen:
                    seen.add(target)
                    stack.extend(on_import[target])
        return found

    loaded = {name: heavy_closure(_imports(path, top_level_only=False))
              for name, path in modules.items() if name.startswith("organizing.report")}
    assert {name: found for name, found in loaded.items() if found} == {}
    # the check sees through a function-level import of a module that loads JAX
    assert heavy_closure({"organizing.inference.nuts"}) >= {"jax"}


#: Look-ups of words and names (the data dictionary) that the report may call: they
#: compute nothing from results and state no rule, they name a column or say what it means.
VOCABULARY = {
    "organizing.data.meaning.meaning",
    "organizing.data.prepare.generic_name",
    "organizing.data.prepare.meaning",
    "organizing.features.is_composition",
}


def _analysis_calls(source: str) -> list[str]:
    """Functions of non-report modules of the package that ``source`` calls, by their
    qualified name: names imported from them, and attributes of modules imported whole.
    Types (a record's methods, an enum) and constants are not calls of an analysis
    function and are not listed."""
    import importlib
    import inspect

    tree = ast.parse(source)
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (
                node.module or "").startswith("organizing"):
            if node.module.startswith("organizing.report"):
                continue
            for alias in node.names:
                try:
                    obj = importlib.import_module(f"{node.module}.{alias.name}")
                except ModuleNotFoundError:
                    obj = getattr(importlib.import_module(node.module), alias.name)
                bound[alias.asname or alias.name] = obj
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("organizing") and not alias.name.startswith(
                        "organizing.report"):
                    bound[alias.asname or alias.name] = importlib.import_module(alias.name)
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        chain, func = [], node.func
        while isinstance(func, ast.Attribute):
            chain.append(func.attr)
            func = func.value
        if not (isinstance(func, ast.Name) and func.id in bound):
            continue
        obj = bound[func.id]
        for attr in reversed(chain):
            obj = getattr(obj, attr, None) if inspect.ismodule(obj) else None
        if inspect.isfunction(obj):
            calls.append(f"{obj.__module__}.{obj.__qualname__}")
    return calls


def test_no_report_module_calls_an_analysis_function():
    """The report formats typed results: every rule, statistic and disclosure decision is
    applied where results are computed, so a report module calls no function of an
    analysis module (it may read their constants and types, and the data dictionary)."""
    found = {_module_name(p): sorted(set(_analysis_calls(p.read_text())) - VOCABULARY)
             for p in (PACKAGE / "report").rglob("*.py")}
    assert {name: calls for name, calls in found.items() if calls} == {}
    # the check finds a call through a module imported whole and through a name
    planted = ("from organizing.data import disclosure\n"
               "from organizing.data.checks import minimum_sites\n"
               "def f(n, c):\n    return disclosure.withhold_count(n, min_count=5), "
               "minimum_sites(c)\n")
    assert _analysis_calls(planted) == ["organizing.data.disclosure.withhold_count",
                                        "organizing.data.checks.minimum_sites"]
