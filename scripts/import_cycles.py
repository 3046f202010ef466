"""Import cycles among ddmd_bench modules, counting imports inside functions as well as module-level ones.

A function-level import hides a cycle from Python (it runs after both modules have loaded) but not from the design.
This script reads the source (nothing is imported), builds the module graph and reports:

- every strongly connected component of more than one module (a cycle), with one concrete cycle through it;
- every function-level import of a ddmd_bench module without a comment saying why: on its line, above its block of
  imports, or once for the whole module on a line starting with `# function-level imports:` (e.g. a command line
  that imports each command's modules inside the command, so `--help` loads nothing heavy).

Imports under `if TYPE_CHECKING:` are left out: they never run. Lazy registry entries ('package.module:attribute'
strings given to `Registry.add_lazy`) are counted but are not edges of the graph: they are how a catalogue in a low
layer names a plug-in above it, so a plug-in that uses its own catalogue is the intended shape, not a cycle.
`--registry` adds them as edges, to see which cycles a plug-in closes.

    python scripts/import_cycles.py              # exit 1 on any cycle
    python scripts/import_cycles.py --strict     # exit 1 also on an unexplained function-level import
    python scripts/import_cycles.py --registry   # lazy registry entries count as imports too
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "ddmd_bench"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


@dataclass(frozen=True, slots=True)
class Import:
    """One import of a ddmd_bench module: where it is, what it imports, and how."""

    source: str  # importing module
    target: str  # imported module
    path: Path
    line: int
    kind: str  # "module", "function" or "registry"
    explained: bool  # a comment on the line or the line above says why


def module_name(path: Path, root: Path) -> str:
    """'ddmd_bench/tracks/toy/track.py' -> 'ddmd_bench.tracks.toy.track' (a package is its __init__)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package under `root`."""
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Every node with whether it sits inside a function body, skipping `if TYPE_CHECKING:` blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other, in_function
                yield from _walk(other, in_function)
            continue
        inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield child, in_function
        yield from _walk(child, inside)


def _absolute(module: str | None, level: int, source: str, is_package: bool) -> str | None:
    if level == 0:
        return module
    base = source.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _targets(node: ast.AST, source: str, is_package: bool, known: dict[str, Path]) -> Iterator[tuple[str, str]]:
    """(target module, kind) for an import node or an `add_lazy(name, "module:attribute")` call."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == PACKAGE:
                yield alias.name, "import"
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(node.module, node.level, source, is_package)
        if base is None or base.split(".")[0] != PACKAGE:
            return
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            yield (sub if sub in known else base), "import"
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_lazy"
          and len(node.args) == 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
        target = node.args[1].value.partition(":")[0]
        if target.split(".")[0] == PACKAGE:
            yield target, "registry"


def _explained(lines: list[str], line: int) -> bool:
    """A comment on the import's line, or on the line above its block of consecutive imports."""
    if "#" in lines[line - 1]:
        return True
    above = line - 2
    while above >= 0 and lines[above].strip().startswith(("from ", "import ")):
        above -= 1
    return above >= 0 and lines[above].strip().startswith("#")


MODULE_REASON = "# function-level imports:"


def imports(root: Path = ROOT) -> list[Import]:
    """Every import of a ddmd_bench module by a ddmd_bench module (TYPE_CHECKING blocks left out)."""
    known = modules(root)
    found = []
    for source, path in known.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        module_reason = any(line.startswith(MODULE_REASON) for line in lines)
        for node, in_function in _walk(ast.parse(text, str(path))):
            seen: set[str] = set()  # `from m import a, b` names one module once
            for target, how in _targets(node, source, path.name == "__init__.py", known):
                if target == source or target in seen:
                    continue
                seen.add(target)
                kind = "registry" if how == "registry" else ("function" if in_function else "module")
                explained = module_reason or _explained(lines, node.lineno)
                found.append(Import(source, target, path, node.lineno, kind, explained))
    return found


def graph(found: list[Import], known: dict[str, Path], registry: bool = False) -> dict[str, set[str]]:
    """module -> modules it imports (only modules of the package; a missing one is not an edge); lazy registry
    entries are edges only when `registry`."""
    edges: dict[str, set[str]] = {m: set() for m in known}
    for imp in found:
        if imp.target in known and (registry or imp.kind != "registry"):
            edges[imp.source].add(imp.target)
    return edges


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Components of more than one module (Tarjan's algorithm, iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
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
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def one_cycle(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first inside the component)."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start] + path[::-1][1:] + [start]
                if child not in parents:
                    parents[child] = node
                    following.append(child)
        frontier = following
    return component


def find_cycles(root: Path = ROOT, registry: bool = False) -> list[list[str]]:
    """One concrete cycle per strongly connected component of the package's import graph (empty: no cycle)."""
    known = modules(root)
    edges = graph(imports(root), known, registry)
    return [one_cycle(c, edges) for c in strongly_connected(edges)]


def unexplained_function_imports(root: Path = ROOT) -> list[Import]:
    """Function-level imports of ddmd_bench modules with no comment saying why."""
    return [imp for imp in imports(root) if imp.kind == "function" and not imp.explained]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the package folder (default: %(default)s)")
    parser.add_argument("--strict", action="store_true", help="also fail on unexplained function-level imports")
    parser.add_argument("--registry", action="store_true", help="count lazy registry entries as imports")
    args = parser.parse_args(argv)
    found = imports(args.root)
    cycles = find_cycles(args.root, args.registry)
    unexplained = unexplained_function_imports(args.root)
    counts = {kind: sum(1 for i in found if i.kind == kind) for kind in ("module", "function", "registry")}
    print(f"{len(found)} imports of {PACKAGE} modules: {counts['module']} module-level, {counts['function']} "
          f"function-level, {counts['registry']} lazy registry entries")
    print(f"import cycles: {len(cycles)}")
    for cycle in cycles:
        print("  " + " -> ".join(cycle))
    print(f"function-level imports of {PACKAGE} modules without a comment saying why: {len(unexplained)}")
    repo = args.root.resolve().parent
    for imp in unexplained:
        print(f"  {imp.path.resolve().relative_to(repo)}:{imp.line}: {imp.source} -> {imp.target}")
    return 1 if cycles or (args.strict and unexplained) else 0


if __name__ == "__main__":
    sys.exit(main())
