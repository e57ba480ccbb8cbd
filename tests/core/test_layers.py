"""The core's layering, read from the source: every import inside playmate_core points to its own folder or
a lower tier (timebase/loading/config/hub_download → model_files, audio, face, crop → motion → pipeline,
model_choice → eval), and the module graph has no circle. Function-level (lazy) imports count too: a circle
hidden in a function is still one."""
import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "playmate_core"
TIERS = {"timebase": 0, "loading": 0, "config_base": 0, "hub_download": 0, "model_files": 1, "model_choice": 3, "__init__": 5,
         "audio": 1, "face": 1, "crop": 1, "motion": 2, "pipeline": 3, "eval": 4}
SIDEWAYS = {("crop", "face"), ("face", "crop")}          # same tier, different folders: none allowed today


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set:
    """Absolute names of the playmate_core modules (or packages) `path` imports, anywhere in the file."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names]
            out |= {n for n in names if _is_module(n)} or {target}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {n for n in out if n == "playmate_core" or n.startswith("playmate_core.")}


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (CORE / rel).with_suffix(".py").is_file() or (CORE / rel / "__init__.py").is_file()


def group(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


GRAPH = {module_name(p): imports(p) for p in CORE.rglob("*.py")}


def test_the_scan_sees_the_core():
    assert len(GRAPH) > 90 and "playmate_core.motion.backend" in GRAPH
    assert "playmate_core.motion.interface" in GRAPH["playmate_core.motion.backend"]


@pytest.mark.parametrize("source", sorted(GRAPH))
def test_imports_point_down_or_within_the_folder(source):
    src = group(source)
    for target in GRAPH[source]:
        dst = group(target)
        if dst == src or target == "playmate_core" and src == "__init__":
            continue
        assert (src, dst) not in SIDEWAYS and TIERS[dst] < TIERS[src], \
            f"{source} imports {target}: {src} (tier {TIERS[src]}) must not import {dst} (tier {TIERS[dst]})"


def test_no_import_circle():
    """Depth-first search over the module graph (a package's own __init__ counts as a module)."""
    state: dict = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt not in GRAPH or nxt == node:
                continue
            if nxt.startswith(node + "."):            # a package importing its own submodules (re-exports)
                continue
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for start in sorted(GRAPH):
        if start not in state:
            visit(start, [start])
