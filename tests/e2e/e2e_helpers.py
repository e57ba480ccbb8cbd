"""Helpers for the e2e tests: API-workflow surgery and mp4 probing (PyAV)."""
from __future__ import annotations

import copy
import json
import math
from fractions import Fraction
from pathlib import Path

AAC_FRAME = 1024          # samples per AAC frame; the encoder adds up to one frame of padding at each end


def load_api(path: Path) -> dict:
    wf = json.loads(Path(path).read_text(encoding="utf-8"))
    return copy.deepcopy(wf.get("prompt", wf))


def nodes_of(wf: dict, class_type: str) -> list[str]:
    return [nid for nid, n in wf.items() if n.get("class_type") == class_type]


def literal_inputs(wf: dict, name: str) -> dict:
    """{node_id: value} of every node having NAME as a literal (not linked) input."""
    return {nid: n["inputs"][name] for nid, n in wf.items()
            if name in n.get("inputs", {}) and not isinstance(n["inputs"][name], list)}


def set_literal(wf: dict, name: str, value) -> list[str]:
    changed = list(literal_inputs(wf, name))
    for nid in changed:
        wf[nid]["inputs"][name] = value
    return changed


def workflow_fps(wf: dict) -> float | None:
    """The fps the workflow generates at: PlaymateAudioToMotion's fps, else any literal fps input."""
    for nid in nodes_of(wf, "PlaymateAudioToMotion"):
        v = wf[nid]["inputs"].get("fps")
        if isinstance(v, (int, float)):
            return float(v)
    vals = [v for v in literal_inputs(wf, "fps").values() if isinstance(v, (int, float))]
    return float(vals[0]) if vals else None


def input_files(wf: dict) -> dict:
    """{'image': [...], 'audio': [...], 'file': [...]} literal file names the Load* nodes read."""
    out: dict = {}
    for n in wf.values():
        if n.get("class_type") in ("LoadImage", "LoadAudio", "LoadVideo"):
            for k in ("image", "audio", "file"):
                v = n.get("inputs", {}).get(k)
                if isinstance(v, str):
                    out.setdefault(k, []).append(v)
    return out


def add_node(wf: dict, class_type: str, inputs: dict) -> str:
    nid = str(max([int(k) for k in wf if str(k).isdigit()] + [0]) + 1000)
    wf[nid] = {"class_type": class_type, "inputs": inputs}
    return nid


EMOTION_DEFAULTS = {"emotion": "neutral", "intensity": 0, "strength": 1.5, "emotion_track": ""}


def emotion_node(wf: dict, a2m: str) -> str:
    """The PlaymateEmotion node feeding Audio To Motion A2M's emotion input (added, with its defaults,
    when none is wired)."""
    link = wf[a2m]["inputs"].get("emotion")
    if isinstance(link, list):
        return str(link[0])
    nid = add_node(wf, "PlaymateEmotion", dict(EMOTION_DEFAULTS))
    wf[a2m]["inputs"]["emotion"] = [nid, 0]
    return nid


def options_node(wf: dict, a2m: str, class_type: str, defaults: dict) -> str:
    """The CLASS_TYPE options node in A2M's options chain (added first in the chain, with DEFAULTS)."""
    link = wf[a2m]["inputs"].get("options")
    while isinstance(link, list):
        if wf[str(link[0])]["class_type"] == class_type:
            return str(link[0])
        link = wf[str(link[0])]["inputs"].get("options")
    nid = add_node(wf, class_type, dict(defaults))
    if isinstance(wf[a2m]["inputs"].get("options"), list):
        wf[nid]["inputs"]["options"] = wf[a2m]["inputs"]["options"]
    wf[a2m]["inputs"]["options"] = [nid, 0]
    return nid


# What the frontend adds or nests differently by version; inputs compared across versions pass through this.
#   CreateVideo: newer frontends (ComfyUI 0.33.0) write bit_depth; SaveVideo: format/codec nested in a dict.
FRONTEND_DEFAULTS = {"CreateVideo": {"bit_depth": None}}


def comparable_inputs(node: dict) -> dict:
    """A node's literal inputs in one shape on every ComfyUI version: nested dict values flattened
    (SaveVideo {'format': {'format': 'auto', 'codec': 'auto'}} -> format, codec) and the inputs only newer
    frontends write dropped (FRONTEND_DEFAULTS)."""
    out: dict = {}
    for k, v in node.get("inputs", {}).items():
        if isinstance(v, list):
            continue
        if isinstance(v, dict):
            out.update({ik: iv for ik, iv in v.items() if not isinstance(iv, (list, dict))})
            continue
        out[k] = v
    for k in FRONTEND_DEFAULTS.get(node.get("class_type"), {}):
        out.pop(k, None)
    return out


def is_unknown_node_error(error: dict, class_type: str) -> bool:
    """ComfyUI's answer to a prompt naming an unknown node type: 'invalid_prompt' (0.3.75) or
    'missing_node_type' (0.33.0), naming the type in its message or details."""
    text = str(error.get("message", "")) + str(error.get("details", "")) + str(error.get("extra_info", ""))
    return error.get("type") in ("invalid_prompt", "missing_node_type") and class_type in text


def upstream(wf: dict, node_id: str) -> dict:
    """The sub-graph NODE_ID depends on (itself included)."""
    keep, todo = set(), [node_id]
    while todo:
        nid = todo.pop()
        if nid in keep:
            continue
        keep.add(nid)
        for v in wf[nid].get("inputs", {}).values():
            if isinstance(v, list) and len(v) == 2 and str(v[0]) in wf:
                todo.append(str(v[0]))
    return {k: copy.deepcopy(wf[k]) for k in wf if k in keep}


def output_index(object_info: dict, class_type: str, name: str) -> int:
    info = object_info[class_type]
    names = info.get("output_name") or info.get("output")
    return list(names).index(name)


def expected_frames(n_samples: int, sample_rate: int, fps: float) -> int:
    """ceil(duration * fps), exact in rationals (fps like 12.5 or 29.97 included)."""
    q = Fraction(n_samples) * Fraction(fps).limit_denominator(1001) / sample_rate
    return math.ceil(q)


def probe_mp4(path: Path) -> dict:
    """Codec names, size, rate, decoded video frame count, decoded audio samples and sample rate."""
    import av

    info: dict = {"path": str(path)}
    with av.open(str(path)) as c:
        info["format"] = c.format.name
        v = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        if v is not None:
            info.update(video_codec=v.codec_context.name, width=v.codec_context.width, height=v.codec_context.height,
                        rate=float(v.average_rate) if v.average_rate else None)
        if a is not None:
            info.update(audio_codec=a.codec_context.name, sample_rate=a.codec_context.sample_rate,
                        channels=a.codec_context.channels)
    if v is not None:
        with av.open(str(path)) as c:
            info["frames"] = sum(1 for _ in c.decode(video=0))
    if a is not None:
        with av.open(str(path)) as c:
            info["audio_samples"] = sum(f.samples for f in c.decode(audio=0))
    return info


def mp4_files(result) -> list[dict]:
    return [f for f in result.files if f["filename"].lower().endswith((".mp4", ".mov", ".mkv", ".webm"))]


def describe(result) -> str:
    """A readable failure text for an unsuccessful prompt."""
    e = result.error or {}
    if result.status == "validation_error":
        return json.dumps(e, indent=1)[:4000]
    tb = "".join(e.get("traceback") or [])[-3000:]
    return (f"{result.status}: node {e.get('node_id')} ({e.get('node_type')}) {e.get('exception_type')}: "
            f"{e.get('exception_message')}\n{tb}")


def audio_samples(path: Path) -> tuple[int, int]:
    """(samples per channel, sample_rate) of any audio file, decoded with PyAV like LoadAudio does."""
    import av

    with av.open(str(path)) as c:
        sr = c.streams.audio[0].codec_context.sample_rate
        return sum(f.samples for f in c.decode(audio=0)), sr


def one(wf: dict, class_type: str) -> str:
    ids = nodes_of(wf, class_type)
    assert ids, f"no {class_type} node in the workflow"
    return ids[0]


def extract_only(base_wf: dict, object_info: dict) -> tuple[dict, str]:
    """LoadModels + LoadImage + PlaymateExtractMotion -> PreviewImage(crops): a cheap prompt that runs a
    Playmate node on the photo. Returns (workflow, preview node id)."""
    ex = one(base_wf, "PlaymateExtractMotion")
    wf = upstream(base_wf, ex)
    idx = output_index(object_info, "PlaymateExtractMotion", "crops")
    preview = add_node(wf, "PreviewImage", {"images": [ex, idx]})
    return wf, preview
