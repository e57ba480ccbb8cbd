"""The pack loads into a real ComfyUI: every Playmate node registered, documented, and every shipped
workflow's node types known to the server; example workflows listed as templates."""
from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from .e2e_env import EXAMPLES, UI_DIR, api_workflows, comfy_server, ui_workflows

# The node ids of the pack (V3 schemas in nodes/).
EXPECTED_NODES = [
    "PlaymateLoadModels", "PlaymateDownloadModels", "PlaymateExtractMotion", "PlaymateAudioToMotion",
    "PlaymatePoseOverride", "PlaymateRenderFrames", "PlaymateRenderVideo", "PlaymateSaveMotion",
    "PlaymateLoadMotion", "PlaymateMotionPreview", "PlaymateBlinksSilence", "PlaymateExpressionEdit",
    "PlaymateVideoFaceSource", "PlaymateDubVideo", "PlaymateEmotion", "PlaymateSamplingOptions",
    "PlaymateJoyVASAOptions",
]
PACK_MODULE = f"custom_nodes.{comfy_server.PACK_NAME}"


def playmate_nodes(object_info: dict) -> dict:
    return {k: v for k, v in object_info.items() if v.get("python_module") == PACK_MODULE}


def test_pack_imported_without_failures(comfy, object_info):
    log = comfy.log_text()
    assert "(IMPORT FAILED)" not in log, comfy.log_tail(80)
    ours = playmate_nodes(object_info)
    assert ours, f"no node from {PACK_MODULE} in /object_info"
    assert all(k.startswith("Playmate") for k in ours), sorted(ours)


def test_every_planned_node_registered(object_info):
    missing = [n for n in EXPECTED_NODES if n not in object_info]
    assert not missing, f"not in /object_info: {missing}; Playmate nodes there: {sorted(playmate_nodes(object_info))}"


def test_every_node_has_description_and_every_input_a_tooltip(object_info):
    problems = []
    for name, info in sorted(playmate_nodes(object_info).items()):
        if not (info.get("description") or "").strip():
            problems.append(f"{name}: no description")
        if not (info.get("display_name") or "").strip():
            problems.append(f"{name}: no display_name")
        if not str(info.get("category", "")).startswith("Playmate"):
            problems.append(f"{name}: category {info.get('category')!r} is not under Playmate/")
        for section in ("required", "optional"):
            for inp, spec in (info.get("input", {}).get(section) or {}).items():
                opts = spec[1] if isinstance(spec, list) and len(spec) > 1 and isinstance(spec[1], dict) else {}
                if not (opts.get("tooltip") or "").strip():
                    problems.append(f"{name}.{inp}: no tooltip")
    assert not problems, "\n".join(problems)


JARGON = re.compile(r"paper[:)]|\beq\. ?\d|\bw_[ae]\b|\((?:F|M|W|G)\)|\bF and M\b|MEAD|respaced|ancestral")


def test_labels_are_plain_and_names_follow_one_scheme(object_info):
    """Descriptions and tooltips without paper jargon (the README keeps the paper references); every
    display name carries 'Playmate'."""
    problems = []
    for name, info in sorted(playmate_nodes(object_info).items()):
        if "Playmate" not in (info.get("display_name") or ""):
            problems.append(f"{name}: display name {info.get('display_name')!r} has no 'Playmate'")
        texts = {"description": info.get("description") or ""}
        for section in ("required", "optional"):
            for inp, spec in (info.get("input", {}).get(section) or {}).items():
                opts = spec[1] if isinstance(spec, list) and len(spec) > 1 and isinstance(spec[1], dict) else {}
                texts[inp] = opts.get("tooltip") or ""
        problems += [f"{name}.{k}: {JARGON.search(t).group(0)!r} in {t!r}" for k, t in texts.items() if JARGON.search(t)]
    assert not problems, "\n".join(problems)


def test_search_aliases_where_comfyui_supports_them(object_info):
    """ComfyUI 0.33.0 publishes search_aliases (its node search uses them); 0.3.75 has no such field."""
    info = object_info.get("PlaymateAudioToMotion", {})
    if "search_aliases" not in info:
        pytest.skip("this ComfyUI publishes no search_aliases (0.3.75)")
    for alias in ("talking head", "lip sync", "audio to video", "avatar", "portrait animation"):
        assert alias in (info["search_aliases"] or []), info["search_aliases"]


FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}     # web-UI nodes, never queued


def test_shipped_workflows_use_known_node_types(object_info):
    wfs = api_workflows() + ui_workflows()
    assert api_workflows(), "no workflows/*_api.json"
    unknown = {}
    for p in wfs:
        wf = json.loads(p.read_text())
        if isinstance(wf.get("nodes"), list):
            sub = {s.get("id") for s in (wf.get("definitions") or {}).get("subgraphs", [])}
            types = {n["type"] for n in wf["nodes"] if n["type"] not in sub and n["type"] not in FRONTEND_ONLY}
        else:
            types = {n["class_type"] for n in wf.values()}
        bad = sorted(t for t in types if t not in object_info)
        if bad:
            unknown[str(p)] = bad
    assert not unknown, f"node types the server does not know: {unknown}"


def test_api_and_ui_workflows_come_in_pairs():
    apis = {p.name[: -len("_api.json")] for p in api_workflows()}
    uis = {p.stem for p in ui_workflows() if p.parent == UI_DIR}
    assert apis == uis, f"API-only: {sorted(apis - uis)}, UI-only: {sorted(uis - apis)}"
    # the Templates browser copy is the same file, named by its template title (tools/workflow_layouts.py)
    examples = {p.read_bytes(): p.name for p in EXAMPLES.glob("*.json")}
    missing = [name for name in uis if (UI_DIR / f"{name}.json").read_bytes() not in examples]
    assert not missing and len(examples) == len(uis), (missing, sorted(examples.values()))


def test_example_workflows_listed_as_templates(client):
    names = sorted(p.stem for p in EXAMPLES.glob("*.json"))
    assert names, "example_workflows/ holds no workflow"
    listed = client.get("/workflow_templates").get(comfy_server.PACK_NAME, [])
    assert not set(names) - set(listed), f"not listed: {sorted(set(names) - set(listed))}; listed: {listed}"
    for name in names:
        code, raw = client.request("GET", f"/api/workflow_templates/{comfy_server.PACK_NAME}/{quote(name)}.json")
        assert code == 200, (name, code)
        assert json.loads(raw) == json.loads((EXAMPLES / f"{name}.json").read_text())


def test_template_list_has_no_duplicate_or_broken_entries(client):
    """ComfyUI 0.3.75 lists the JSON files of example_workflows/, example/, examples/, workflow/ AND
    workflows/ of a pack, but serves /api/workflow_templates/<pack>/ from the first of those folders only:
    anything else listed shows up in the Templates browser as a duplicate or a template that fails to open."""
    listed = client.get("/workflow_templates").get(comfy_server.PACK_NAME, [])
    dup = sorted(n for n in set(listed) if listed.count(n) > 1)
    broken = [n for n in sorted(set(listed))
              if client.request("GET", f"/api/workflow_templates/{comfy_server.PACK_NAME}/{quote(n)}.json")[0] != 200]
    assert not dup and not broken, (f"duplicated template entries: {dup}; listed but not served (404): {broken}. "
                                    "Keep workflow JSON only in example_workflows/ among ComfyUI's template folder "
                                    "names (rename workflows/ or move its files into a sub-folder).")


@pytest.mark.parametrize("node, limits", [
    ("PlaymateAudioToMotion", (("steps", 1, 200), ("fps", 1, 120))),
    ("PlaymateSamplingOptions", (("audio_guidance", 0, 10), ("randomness", 0, 1))),
    ("PlaymateEmotion", (("intensity", 0, 3), ("strength", 0, 10)))])
def test_range_limits_are_published(object_info, node, limits):
    """Limits the UI and validation use (steps 1..200, fps 1..120, audio guidance 0..10, ...)."""
    if node not in object_info:
        pytest.fail(f"{node} not registered")
    req = {**object_info[node]["input"].get("required", {}), **object_info[node]["input"].get("optional", {})}
    for inp, lo, hi in limits:
        assert inp in req, f"{node}.{inp} missing"
        opts = req[inp][1]
        assert (opts.get("min"), opts.get("max")) == (lo, hi), (inp, opts)
