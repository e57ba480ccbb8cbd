"""Pytest fixtures for the local Hugging Face hub stand-in (tools/hub_standin.py), for download tests.

Use them by importing the fixture names into a test module (pytest picks imported fixtures up):

    from .hub_standin import hub, hub_server, hub_tree  # noqa: F401        (inside tests/e2e)
    from e2e.hub_standin import hub, hub_server, hub_tree  # noqa: F401     (elsewhere under tests/)

hub_tree    (session) root of the random full-size tree in the public layouts, built once and cached in
            pytest's cache folder (.pytest_cache/d/hub-standin/v<N>; $PLAYMATE_HUB_STANDIN_CACHE overrides)
hub_server  (session) a running HubStandin on 127.0.0.1 over hub_tree; its .endpoint is the HF_ENDPOINT
hub         (function) the same server with its request record and rules cleared before and after the test
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "hub_standin.py"


def load_tool():
    """tools/hub_standin.py as the module `hub_standin` (tools/ is not a package)."""
    mod = sys.modules.get("hub_standin")
    if mod is None:
        spec = importlib.util.spec_from_file_location("hub_standin", TOOL)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["hub_standin"] = mod
        spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def hub_tree(request) -> Path:
    import os
    cache = os.environ.get("PLAYMATE_HUB_STANDIN_CACHE") or request.config.cache.mkdir("hub-standin")
    return load_tool().ensure_tree(cache)


@pytest.fixture(scope="session")
def hub_server(hub_tree):
    with load_tool().HubStandin(hub_tree) as server:
        yield server


@pytest.fixture
def hub(hub_server):
    hub_server.clear()
    yield hub_server
    hub_server.clear()
