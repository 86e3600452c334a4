"""The layout of docs/architecture.md, enforced: imports run one way down the pipeline, no circles.

Every import in ``src/sertune`` counts, also those inside functions (an import put off
until it is needed is still a dependency), and ``if TYPE_CHECKING`` ones (they name types
of a lower stage, or they would be a circle too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: The stages, lowest first: a module may import its own stage and the ones before it.
#: Inside ``study``, its sub-packages are ordered the same way.
STAGES = ("base", "corpora", "features", "training", "study.store", "study.strategies", "study.replay",
          "study.search", "report", "deploy", "cli")
#: Modules of the base stage, directly in src/sertune.
BASE = {"sertune", "sertune.errors", "sertune.config", "sertune.environment", "sertune.outputs"}
MAX_TOP_MODULES = 6
MAX_PACKAGE_MODULES = 15


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((SRC / "sertune").rglob("*.py"))}


def stage(module: str) -> str:
    if module in BASE:
        return "base"
    if module == "sertune.__main__":
        return "cli"
    if module == "sertune.study":        # the package's docstring only: below its sub-packages
        return "study.store"
    rest = module.split(".")[1:]
    two = ".".join(rest[:2])
    return two if two in STAGES else rest[0]


def imports(module: str) -> set[str]:
    """The sertune modules ``module`` imports (``from pkg import mod`` counts ``mod``)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names]
        else:
            continue
        found.update(t for t in targets if t.split(".")[0] == "sertune" and t in MODULES and t != module)
    return found


GRAPH = {m: imports(m) for m in MODULES}


def test_every_module_has_a_stage_and_the_stages_are_known():
    assert all(stage(m) in STAGES for m in MODULES), sorted(m for m in MODULES if stage(m) not in STAGES)


def test_no_module_imports_a_later_stage():
    order = {s: i for i, s in enumerate(STAGES)}
    wrong = [f"{m} ({stage(m)}) imports {t} ({stage(t)})" for m, targets in GRAPH.items() for t in targets
             if order[stage(t)] > order[stage(m)]
             and not (t in {"sertune"} or MODULES[t].name == "__init__.py" and t in m)]
    assert not wrong, "\n".join(wrong)


def test_there_is_no_import_circle():
    # Depth-first search; a module met again while it is still on the path closes a circle.
    # A package's __init__ importing its own modules is the package, not a circle.
    state, circles = {}, []

    def visit(m, path):
        state[m] = "open"
        for t in sorted(GRAPH[m]):
            if t != "sertune" and not (MODULES[t].name == "__init__.py" and m.startswith(t + ".")):
                if state.get(t) == "open":
                    circles.append(" -> ".join(path[path.index(t):] + [t]))
                elif t not in state:
                    visit(t, path + [t])
        state[m] = "done"

    for m in sorted(MODULES):
        if m not in state:
            visit(m, [m])
    assert not circles, "\n".join(circles)


def test_packages_stay_small_and_say_their_job():
    top = [p for p in (SRC / "sertune").glob("*.py")]
    assert len(top) <= MAX_TOP_MODULES, sorted(p.name for p in top)
    for init in (SRC / "sertune").rglob("__init__.py"):
        folder = init.parent
        assert len(list(folder.glob("*.py"))) <= MAX_PACKAGE_MODULES, folder
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "TODO" not in doc, f"{folder} has no one-line job in its __init__.py"


@pytest.mark.parametrize("module,target,allowed", [
    ("sertune.training.fit", "sertune.training.model", True),
    ("sertune.features.audio", "sertune.corpora", True),
    ("sertune.corpora.base", "sertune.features.theta", False),
    ("sertune.study.store.curves", "sertune.study.search.runner", False),
])
def test_the_stage_rule_itself(module, target, allowed):
    order = {s: i for i, s in enumerate(STAGES)}
    assert (order[stage(target)] <= order[stage(module)]) == allowed
