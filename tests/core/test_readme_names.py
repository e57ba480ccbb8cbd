"""The README's Python examples and the `playmate_core.…` names it mentions resolve: a layout change that
moves a module must keep its public names importable (re-exports) or update the README."""
import importlib
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
IMPORTS = [(m.group(1), name.strip().split(" as ")[0])
           for block in BLOCKS for m in re.finditer(r"^from ([\w.]+) import \(?([^)\n]+)", block, re.M)
           for name in m.group(2).split(",") if name.strip()]
DOTTED = sorted(set(re.findall(r"`(playmate_core(?:\.\w+)+)`", README)))


def resolve(dotted: str):
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
            break
        except ModuleNotFoundError:
            continue
    for attr in parts[k:]:
        obj = getattr(obj, attr)
    return obj


def test_the_readme_has_examples_and_names():
    assert len(BLOCKS) >= 3 and len(IMPORTS) >= 8 and len(DOTTED) >= 5


@pytest.mark.parametrize("module,name", IMPORTS)
def test_example_imports_resolve(module, name):
    assert hasattr(importlib.import_module(module), name), f"README imports {name} from {module}"


@pytest.mark.parametrize("dotted", DOTTED)
def test_named_modules_and_functions_exist(dotted):
    resolve(dotted)
