"""The package's imports flow one way: no cycle, and no stage imports a later one."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "organizing"

#: Stages in the order data flows. A module may import its own stage or an earlier one.
STAGES = ("config", "data", "features", "models", "inference", "evaluation", "clustering",
          "planning", "audit", "effects", "claims", "error_rates", "results", "sensitivity",
          "pipeline", "report", "simulate", "cli", "_entry")


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports (anywhere in the file)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
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

    code = ("import sys; import organizing.results.sections, organizing.report.summary; "
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
