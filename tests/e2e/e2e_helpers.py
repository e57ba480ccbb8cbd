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
