"""Every combo of every Playmate node is checked at submission, including nodes added later.

ComfyUI 0.3.75 does not check V3 combo values, so each node must name its combos in validate_inputs and
refuse a value that is not listed. This imports the pack the way ComfyUI does (in a child process with
ComfyUI's code on the path) and, for every node in the registered list, calls validate_inputs with each
combo set to a bogus value: the answer must be a message that names the node and the valid values.
"""
from __future__ import annotations

import json
import subprocess
import textwrap

from .e2e_env import ROOT, comfy_dir as comfy_dir_for, comfy_server, find_comfy_venv, unavailable

PROBE = textwrap.dedent('''
    import asyncio, importlib.util, inspect, json, sys
    comfy_dir, pack = sys.argv[1], sys.argv[2]
    sys.argv = [sys.argv[0], "--cpu"]
    sys.path.insert(0, comfy_dir)
    import comfy.options; comfy.options.enable_args_parsing()       # read --cpu, as main.py does
    import folder_paths  # noqa: F401  (ComfyUI's module, as inside the server)
    spec = importlib.util.spec_from_file_location("playmate_pack", pack + "/__init__.py",
                                                  submodule_search_locations=[pack])
    mod = importlib.util.module_from_spec(spec); sys.modules["playmate_pack"] = mod; spec.loader.exec_module(mod)
    ext = asyncio.run(mod.comfy_entrypoint())
    report = {}
    for node in asyncio.run(ext.get_node_list()):
        schema = node.define_schema()
        combos = [i.id for i in schema.inputs if getattr(i, "options", None) is not None]
        fn = node.__dict__.get("validate_inputs")
        named = inspect.getfullargspec(fn.__func__).args if fn is not None else []
        results = {}
        for cid in combos:
            results[cid] = node.validate_inputs(**{cid: "bogus-value-not-listed"}) if cid in named else None
        report[schema.node_id] = {"display": schema.display_name, "combos": combos, "named": named,
                                  "results": results}
    print("REPORT" + json.dumps(report))
''')


def test_every_combo_of_every_node_is_validated():
    venv = find_comfy_venv()
    if venv is None:
        unavailable("no venv with ComfyUI 0.3.75 found")
    comfy_dir = comfy_dir_for(venv)
    python = comfy_server.venv_python(venv)
    out = subprocess.run([str(python), "-c", PROBE, str(comfy_dir), str(ROOT)], capture_output=True, text=True,
                         timeout=300, cwd=str(comfy_dir))
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("REPORT")), None)
    assert line, f"the probe failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    report = json.loads(line[len("REPORT"):])
    assert len(report) >= 10, sorted(report)
    problems = []
    for node_id, r in report.items():
        for cid in r["combos"]:
            res = r["results"][cid]
            if cid not in r["named"]:
                problems.append(f"{node_id}.{cid}: not named in validate_inputs (ComfyUI would accept any value)")
            elif not (isinstance(res, str) and res.startswith(r["display"]) and "bogus-value-not-listed" in res):
                problems.append(f"{node_id}.{cid}: validate_inputs answered {res!r}")
    assert not problems, "\n".join(problems)
    print(f"[e2e] combos validated: {sum(len(r['combos']) for r in report.values())} in {len(report)} nodes")
