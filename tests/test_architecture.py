"""The shape of the product's imports, checked statically over the source (``ast``), lazy
imports inside functions included (they hide cycles from an import at start-up, not from the
design); imports under ``if TYPE_CHECKING:`` are left out.

- no import cycles among the product packages;
- the domain core, obligations/, imports nothing from the layers around it;
- the CLI's command modules import only ``flows.cli.context`` and ``flows.cli.output`` of the CLI.

``import_graph()`` and ``cycles()`` are meant for other checks too."""
from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("obligations", "storage", "notifications", "flows", "reports", "web")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every product module by dotted name."""
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
            if "__pycache__" not in p.parts}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Import and ImportFrom nodes anywhere in the tree, except under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _resolve(name: str) -> str | None:
    """The product module that ``name`` (a dotted module path) is, or lies in; None outside the product."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    known = modules()
    if isinstance(node, ast.Import):
        return {t for alias in node.names if (t := _resolve(alias.name))}
    base = node.module or ""
    if node.level:   # relative: from the module's package, up level - 1
        package = module if known[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    found = set()
    for alias in node.names:   # `from pkg import submodule` imports the submodule
        sub = f"{base}.{alias.name}"
        target = sub if sub in known else _resolve(base)
        if target:
            found.add(target)
    return found


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """Module → the product modules it imports (anywhere in its source). A submodule's implicit
    import of its parent package is not an edge: a package's ``__init__`` importing its own
    submodules is no cycle."""
    graph = {}
    for module, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[module] = frozenset(t for node in _imports(tree) for t in _targets(module, node) if t != module)
    return graph


def cycles(graph: dict[str, frozenset[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def _describe(component: set[str], graph: dict[str, frozenset[str]]) -> str:
    """One cycle through the component, as a → b → a, with the edges that close it."""
    start = min(component)
    path, seen = [start], {start}
    while True:
        nxt = sorted(graph[path[-1]] & component)
        back = [n for n in nxt if n in seen]
        fresh = [n for n in nxt if n not in seen]
        if back and (not fresh or start in back):
            target = start if start in back else back[0]
            return " → ".join(path[path.index(target):] + [target])
        path.append(fresh[0])
        seen.add(fresh[0])


def test_the_graph_sees_the_product():
    graph = import_graph()
    assert {"obligations.catalog", "storage.db", "flows.cli.root", "web.app", "reports.service"} <= set(graph)
    assert "storage.db" in graph["flows.cli.context"]              # module-level import
    assert "flows.cli.plans" in graph["flows.cli.root"]            # import flows.cli.plans as plans
    assert "web.ics" in graph["web.pages.items"]                   # from web.ics import feed_url
    assert "obligations.extract.draft" in graph["flows.cli.plans"]  # lazy import inside a function
    assert "storage.access" in graph["storage.workflow"]
    assert cycles({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}) \
        == [{"a", "b", "c"}]


def test_no_import_cycles():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(_describe(c, graph) for c in found)


def test_the_domain_core_imports_no_outer_layer():
    outer = ("storage", "flows", "web", "notifications", "reports")
    graph = import_graph()
    bad = sorted(f"{m} imports {t}" for m, targets in graph.items() if m.split(".")[0] == "obligations"
                 for t in targets if t.split(".")[0] in outer)
    assert not bad, "obligations/ is the domain core:\n" + "\n".join(bad)


def test_cli_command_modules_import_only_context_and_output():
    graph = import_graph()
    cli = {m for m in graph if m.startswith("flows.cli.")}
    allowed = {"flows.cli.output": set(), "flows.cli.context": {"flows.cli.output"},
               "flows.cli.root": cli - {"flows.cli.root"}}
    bad = []
    for m in sorted(cli):
        within = {t for t in graph[m] if t == "flows.cli" or t.startswith("flows.cli.")}
        extra = within - allowed.get(m, {"flows.cli.context", "flows.cli.output"})
        bad += [f"{m} imports {t}" for t in sorted(extra)]
    assert not bad, "\n".join(bad)
    assert graph["flows.cli"] == {"flows.cli.root"}


def test_each_cli_module_imports_first_in_a_fresh_interpreter():
    """Each flows.cli module imported on its own, as the first CLI module of a fresh interpreter
    (one interpreter; the CLI's modules are dropped from sys.modules between imports)."""
    names = sorted(m for m in modules() if m == "flows.cli" or m.startswith("flows.cli."))
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for m in [m for m in sys.modules if m == 'flows.cli' or m.startswith('flows.cli.')]:\n"
        "        del sys.modules[m]\n"
        "    importlib.import_module(name)\n"
        "import flows.cli\n"
        "assert callable(flows.cli.main) and callable(flows.cli.entry) and flows.cli.app is not None\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
