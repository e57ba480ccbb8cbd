"""Random-weight files in the public Hugging Face repositories' exact layouts, at FULL size, for tests.

Every file is written by the project's own classes and writers (never downloaded, never copied):

    Kijai/LivePortrait_safetensors: <slot>.safetensors x 5
        build_face_modules(FaceEngineConfig.liveportrait()) -> face.weights.save_weights(..., "safetensors")
    jdh-algo/JoyVASA: motion_generator/motion_generator_hubert_chinese.pt, motion_template/motion_template.pkl
        build_random_joyvasa(JoyVASAConfig()) (HuBERT-base encoder) -> joyvasa.export.released_args/_state
        (torch.save of {args, model, iter}, as the release) and save_template_pickle
    TencentGameMate/chinese-hubert-base: config.json (HubertConfig(), the encoder geometry inside the .pt)
    facebook/wav2vec2-base-960h: config.json, preprocessor_config.json, model.safetensors
        transformers' Wav2Vec2ForCTC (vocab 32) with random weights, keys as the public file
        ('wav2vec2.*' + 'lm_head.*', pos-conv weight_g/weight_v), and Wav2Vec2FeatureExtractor's json

The file names come from playmate_core.model_files.BUNDLES (checked after writing). All weights are
RANDOM: the files load like the public ones and produce noise, never a face.

Built trees are cached: <cache>/v<TREE_VERSION>/<owner>/<repo>/..., one repository at a time under a
file lock (parallel test sessions wait instead of writing twice), written into a temporary folder and
renamed into place, with `.hub_standin_done.json` (sizes, sha256, build seconds) as the completion mark.
Bump TREE_VERSION whenever a writer changes its output.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TREE_VERSION = "2"
SEED = 0
DONE_FILE = ".hub_standin_done.json"       # hidden names are never served by the stand-in


def _liveportrait(repo: Path) -> None:
    import torch
    from playmate_core import FaceEngineConfig, build_face_modules, save_weights
    torch.manual_seed(SEED)
    save_weights(build_face_modules(FaceEngineConfig.liveportrait()), repo, "safetensors")


def _joyvasa_model():
    from playmate_core.motion.joyvasa.config import JoyVASAConfig
    from playmate_core.motion.joyvasa.export import build_random_joyvasa
    return build_random_joyvasa(JoyVASAConfig(), None, seed=SEED)     # HuBERT-base = HubertConfig() defaults


def _joyvasa(repo: Path) -> None:
    """The released {args, model, iter} pickle; args also say playmate_untrained=True (iter 0), as the demo
    models do, so the loaders report these random weights as untrained (the reference ignores the field)."""
    import torch
    from playmate_core.motion.joyvasa.export import released_args, released_state, save_template_pickle
    model = _joyvasa_model()
    (repo / "motion_generator").mkdir(parents=True)
    (repo / "motion_template").mkdir(parents=True)
    torch.save({"args": released_args(model.cfg, playmate_untrained=True), "model": released_state(model),
                "iter": 0}, str(repo / "motion_generator" / "motion_generator_hubert_chinese.pt"))
    save_template_pickle(model.template, repo / "motion_template" / "motion_template.pkl")


def hubert_base_config():
    """chinese-hubert-base's geometry: HuBERT-base (the JoyVASA .pt's encoder is built from the same)."""
    from transformers import HubertConfig
    return HubertConfig(architectures=["HubertModel"])


def _hubert(repo: Path) -> None:
    (repo / "config.json").write_text(hubert_base_config().to_json_string(), encoding="utf-8")


def wav2vec2_960h_config():
    """facebook/wav2vec2-base-960h's architecture: wav2vec2-base with a 32-letter CTC head."""
    from transformers import Wav2Vec2Config
    return Wav2Vec2Config(architectures=["Wav2Vec2ForCTC"], vocab_size=32, pad_token_id=0, bos_token_id=1,
                          eos_token_id=2, ctc_loss_reduction="sum", layerdrop=0.1)


def _wav2vec2(repo: Path) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC
    torch.manual_seed(SEED)
    config = wav2vec2_960h_config()
    model = Wav2Vec2ForCTC(config).eval()
    state = {}
    for key, value in model.state_dict().items():     # the public file predates weight-norm parametrizations
        key = key.replace("parametrizations.weight.original0", "weight_g")
        key = key.replace("parametrizations.weight.original1", "weight_v")
        state[key] = value.detach().contiguous()
    save_file(state, str(repo / "model.safetensors"), metadata={"format": "pt"})
    (repo / "config.json").write_text(config.to_json_string(), encoding="utf-8")
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                         do_normalize=True, return_attention_mask=False)
    (repo / "preprocessor_config.json").write_text(extractor.to_json_string(), encoding="utf-8")


WRITERS = {
    "Kijai/LivePortrait_safetensors": _liveportrait,
    "jdh-algo/JoyVASA": _joyvasa,
    "TencentGameMate/chinese-hubert-base": _hubert,
    "facebook/wav2vec2-base-960h": _wav2vec2,
}


def bundle_files(repo_id: str) -> list:
    """The paths inside `repo_id` that playmate_core.model_files.BUNDLES downloads (first spelling)."""
    from playmate_core.model_files import BUNDLES
    return sorted({f.candidates[0] for files in BUNDLES.values() for f in files if f.repo_id == repo_id})


def default_cache_dir() -> Path:
    """$PLAYMATE_HUB_STANDIN_CACHE, else <repo>/.pytest_cache/d/hub-standin (pytest's cache, git-ignored)."""
    env = os.environ.get("PLAYMATE_HUB_STANDIN_CACHE")
    return Path(env) if env else ROOT / ".pytest_cache" / "d" / "hub-standin"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_record(repo_dir: Path) -> dict | None:
    """The build record of a finished repository folder (None when absent or unreadable)."""
    try:
        return json.loads((repo_dir / DONE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_repo(root: Path, repo_id: str) -> dict:
    """Build `root/<repo_id>` once (locked, atomic); returns its record {files: {path: {size, sha256,
    mtime_ns}}, seconds, bytes, version}."""
    if repo_id not in WRITERS:
        raise ValueError(f"no writer for {repo_id!r}; the stand-in tree knows {sorted(WRITERS)}")
    final = root / repo_id
    record = read_record(final)
    if record is not None:
        return record
    with _lock(root / ".locks" / (repo_id.replace("/", "+") + ".lock")):
        record = read_record(final)
        if record is not None:
            return record
        tmp = root / ".building" / repo_id
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        start = time.perf_counter()
        WRITERS[repo_id](tmp)
        seconds = time.perf_counter() - start
        missing = [p for p in bundle_files(repo_id) if not (tmp / p).is_file()]
        if missing:
            raise RuntimeError(f"stand-in writer for {repo_id} did not write {missing} (named in model_files.BUNDLES)")
        files = {}
        for p in sorted(q for q in tmp.rglob("*") if q.is_file()):
            st = p.stat()
            files[p.relative_to(tmp).as_posix()] = {"size": st.st_size, "sha256": sha256_file(p),
                                                    "mtime_ns": st.st_mtime_ns}
        record = {"repo_id": repo_id, "version": TREE_VERSION, "seed": SEED, "seconds": round(seconds, 2),
                  "bytes": sum(f["size"] for f in files.values()), "files": files}
        (tmp / DONE_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return record


def ensure_tree(cache_dir: str | os.PathLike | None = None, repos=None) -> Path:
    """Root of a tree `<owner>/<repo>/<files>` holding `repos` (default: all of WRITERS), built on first use."""
    root = Path(cache_dir or default_cache_dir()) / f"v{TREE_VERSION}"
    for repo_id in repos or WRITERS:
        ensure_repo(root, repo_id)
    return root


def tree_report(root: Path) -> list:
    """[(repo_id, path, bytes)] plus each repository's build seconds, from the records."""
    rows = []
    for repo_id in WRITERS:
        record = read_record(root / repo_id)
        if record is not None:
            rows += [(repo_id, path, f["size"], record["seconds"]) for path, f in record["files"].items()]
    return rows
