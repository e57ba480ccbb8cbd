"""The local Hugging Face hub stand-in (tools/hub_standin.py) and its random full-size tree
(tools/hub_standin_tree.py): byte-exact files at the hub's URL shapes, the hub's 404 codes, HEAD, Range,
the request record, the failure rules, huggingface_hub against it, and (slow) the full-size files in the
public layouts loading through the project's real loaders."""
import hashlib
import json
import math
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from e2e.hub_standin import hub, hub_server, hub_tree, load_tool  # noqa: F401

hs = load_tool()


@pytest.fixture
def small_hub(tmp_path):
    """A stand-in over a small hand-made tree: one binary (LFS-like) file, one text file, one hidden file."""
    repo = tmp_path / "tree" / "owner" / "repo"
    (repo / "sub").mkdir(parents=True)
    blob = bytes(range(256)) * 4096 + b"tail"                         # 1 MiB + 4 bytes
    (repo / "sub" / "weights.safetensors").write_bytes(blob)
    (repo / "config.json").write_text('{"a": 1}')
    (repo / ".secret").write_text("never served")
    with hs.HubStandin(tmp_path / "tree") as server:
        yield server, blob


def _get(url, method="GET", headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_get_and_head_serve_byte_exact_files_with_hub_headers(small_hub):
    server, blob = small_hub
    assert server.endpoint.startswith("http://127.0.0.1:")
    status, head, body = _get(server.url("owner/repo", "sub/weights.safetensors"), "HEAD")
    assert status == 200 and body == b"" and int(head["Content-Length"]) == len(blob)
    sha = hashlib.sha256(blob).hexdigest()
    assert head["ETag"] == head["X-Linked-Etag"] == f'"{sha}"' and head["X-Linked-Size"] == str(len(blob))
    commit = head["X-Repo-Commit"]
    assert len(commit) == 40 and int(commit, 16) >= 0
    status, got, body = _get(server.url("owner/repo", "sub/weights.safetensors", revision=commit))
    assert status == 200 and body == blob and got["X-Repo-Commit"] == commit
    text = b'{"a": 1}'
    status, got, body = _get(server.url("owner/repo", "config.json"))
    git_sha1 = hashlib.sha1(b"blob %d\0" % len(text) + text).hexdigest()
    assert body == text and got["ETag"] == f'"{git_sha1}"' and "X-Linked-Etag" not in got


def test_range_requests(small_hub):
    server, blob = small_hub
    url = server.url("owner/repo", "sub/weights.safetensors")
    status, head, body = _get(url, headers={"Range": "bytes=10-19"})
    assert status == 206 and body == blob[10:20] and head["Content-Range"] == f"bytes 10-19/{len(blob)}"
    assert _get(url, headers={"Range": "bytes=1048570-"})[2] == blob[1048570:]
    assert _get(url, headers={"Range": "bytes=-4"})[2] == b"tail"
    assert _get(url, headers={"Range": f"bytes={len(blob)}-"})[0] == 416


@pytest.mark.parametrize("path,code", [
    ("owner/repo/resolve/main/missing.bin", "EntryNotFound"),
    ("owner/other/resolve/main/config.json", "RepoNotFound"),
    ("owner/repo/resolve/v9/config.json", "RevisionNotFound"),
    ("owner/repo/resolve/main/.secret", "RepoNotFound"),
    ("owner/repo/resolve/main/../repo/config.json", "RepoNotFound"),
])
def test_missing_things_are_404_with_the_hub_error_code(small_hub, path, code):
    server, _ = small_hub
    for method in ("HEAD", "GET"):
        status, head, _ = _get(f"{server.endpoint}/{path}", method)
        assert status == 404 and head["X-Error-Code"] == code, (path, method)
    assert _get(f"{server.endpoint}/api/models/owner/repo")[0] == 404


def test_requests_are_recorded(small_hub):
    server, blob = small_hub
    url = server.url("owner/repo", "sub/weights.safetensors")
    _get(url, "HEAD")
    _get(url)
    _get(url, headers={"Range": "bytes=0-9"})
    _get(server.url("owner/repo", "nope"))
    got = [(r.method, r.filename, r.status, r.bytes_sent, r.complete) for r in server.served()]
    assert got == [("HEAD", "sub/weights.safetensors", 200, 0, True),
                   ("GET", "sub/weights.safetensors", 200, len(blob), True),
                   ("GET", "sub/weights.safetensors", 206, 10, True),
                   ("GET", "nope", 404, 0, False)]
    assert server.served("GET")[1].range == "bytes=0-9"
    assert server.downloaded() == ["owner/repo/sub/weights.safetensors"] * 2
    server.clear()
    assert server.requests == [] and server.downloaded() == []


def test_status_rule_fails_a_file_for_a_number_of_requests(small_hub):
    server, blob = small_hub
    rule = server.add_rule("owner/repo/sub/*", status=403, times=2)
    url = server.url("owner/repo", "sub/weights.safetensors")
    assert _get(url, "HEAD")[0] == 403 and _get(url)[0] == 403
    assert rule.hits == 2 and _get(url)[2] == blob
    assert _get(server.url("owner/repo", "config.json"))[0] == 200


def _settled(server, timeout: float = 10.0):
    """The last GET's record once the server thread has finished with it (the client can read the last
    byte, or see the cut, a moment before the server thread marks the record complete or aborted)."""
    deadline = time.monotonic() + timeout
    rec = server.served("GET")[-1]
    while not (rec.complete or rec.aborted) and time.monotonic() < deadline:
        time.sleep(0.02)
        rec = server.served("GET")[-1]
    return rec


def test_cut_rule_drops_the_connection_and_hold_rule_waits_for_release(small_hub):
    server, blob = small_hub
    url = server.url("owner/repo", "sub/weights.safetensors")
    server.add_rule("owner/repo/sub/*", cut_after=1000, times=1)
    with pytest.raises(Exception):                                    # IncompleteRead: fewer bytes than announced
        _get(url)
    assert server.served("GET")[-1].bytes_sent == 1000 and not server.served("GET")[-1].complete
    assert _get(url)[2] == blob                                       # times=1: the next request is whole
    hold = server.add_rule("owner/repo/sub/*", hold_after=5000, times=1)
    result = {}
    thread = threading.Thread(target=lambda: result.update(got=_get(url)))
    thread.start()
    deadline = time.monotonic() + 20
    while server.served("GET")[-1].bytes_sent < 5000 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    assert server.served("GET")[-1].bytes_sent == 5000 and thread.is_alive()
    hold.release()
    thread.join(20)
    assert result["got"][2] == blob and _settled(server).complete   # the server may record it just after


def test_a_client_that_closes_early_is_recorded_as_aborted(small_hub):
    import socket
    server, blob = small_hub
    server.add_rule("owner/repo/sub/*", bytes_per_second=200_000)     # ~5 s for the whole file
    host, port = server.endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"GET /owner/repo/resolve/main/sub/weights.safetensors HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while len(got) < 20_000:                                        # headers and some of the body
            got += s.recv(65536)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")   # RST on close
    deadline = time.monotonic() + 20
    while not server.served("GET")[-1].aborted and time.monotonic() < deadline:
        time.sleep(0.05)
    rec = server.served("GET")[-1]
    assert rec.aborted and not rec.complete and 0 < rec.bytes_sent < len(blob)
    assert server.downloaded() == []


def test_huggingface_hub_downloads_from_the_stand_in(small_hub, tmp_path, monkeypatch):
    hf = pytest.importorskip("huggingface_hub")
    from huggingface_hub.errors import EntryNotFoundError
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)   # tests/conftest.py sets it
    server, blob = small_hub
    out = tmp_path / "out"
    path = hf.hf_hub_download("owner/repo", "sub/weights.safetensors", local_dir=str(out), endpoint=server.endpoint)
    assert Path(path).read_bytes() == blob
    assert [(r.method, r.status) for r in server.served()] == [("HEAD", 200), ("GET", 200)]
    with pytest.raises(EntryNotFoundError):
        hf.hf_hub_download("owner/repo", "missing.bin", local_dir=str(out), endpoint=server.endpoint)
    server.clear()
    server.add_rule("owner/repo/sub/*", cut_after=100_000, times=1)   # broken stream: the client resumes
    (out / "sub" / "weights.safetensors").unlink()
    path = hf.hf_hub_download("owner/repo", "sub/weights.safetensors", local_dir=str(out), endpoint=server.endpoint,
                              force_download=True)
    assert Path(path).read_bytes() == blob
    gets = server.served("GET")
    assert len(gets) == 2 and gets[0].bytes_sent == 100_000 and not gets[0].complete and gets[1].complete
    # huggingface_hub restarts from 0 when the cut falls inside its first 10 MB read, else it sends a Range
    assert (gets[1].status, gets[1].range) == (200, None) or \
        (gets[1].status, gets[1].length) == (206, len(blob) - 100_000)


def test_tree_is_built_once_per_version_and_served(tmp_path):
    """ensure_tree on one small repository: built into <cache>/v<N>/, recorded, not rebuilt, served as-is."""
    tree = hs._sibling("hub_standin_tree")
    repo_id = "TencentGameMate/chinese-hubert-base"
    root = hs.ensure_tree(tmp_path, repos=[repo_id])
    assert root == tmp_path / f"v{tree.TREE_VERSION}"
    config = root / repo_id / "config.json"
    record = tree.read_record(root / repo_id)
    assert record["files"]["config.json"]["sha256"] == hashlib.sha256(config.read_bytes()).hexdigest()
    stamp = config.stat().st_mtime_ns
    assert hs.ensure_tree(tmp_path, repos=[repo_id]) == root and config.stat().st_mtime_ns == stamp
    assert not (root / ".building" / repo_id).exists()
    with pytest.raises(ValueError, match="no writer"):
        hs.ensure_tree(tmp_path, repos=["someone/else"])
    with hs.HubStandin(root) as server:
        assert _get(server.url(repo_id, "config.json"))[2] == config.read_bytes()
        assert _get(server.url(repo_id, tree.DONE_FILE))[0] == 404


# ------------------------------------------------------------------ the random full-size tree (slow)
LP = "Kijai/LivePortrait_safetensors"
JV = "jdh-algo/JoyVASA"


@pytest.mark.slow
def test_tree_holds_every_bundle_file_in_the_public_layout(hub_tree, data_dir):
    from playmate_core.model_files import BUNDLES
    from safetensors import safe_open
    repos = {"Kijai/LivePortrait_safetensors", "jdh-algo/JoyVASA", "TencentGameMate/chinese-hubert-base",
             "facebook/wav2vec2-base-960h"}
    for name, files in BUNDLES.items():
        for f in files:
            if f.repo_id in repos:
                assert (hub_tree / f.repo_id / f.candidates[0]).is_file(), (name, f.candidates[0])
    manifest = json.loads((data_dir / "liveportrait_manifest.json").read_text())["files"]
    for path in sorted((hub_tree / LP).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as sf:
            got = {k: [list(sf.get_slice(k).get_shape()), str(sf.get_slice(k).get_dtype()).lower()
                       .replace("f32", "float32").replace("i64", "int64")] for k in sf.keys()}
        assert got == manifest[f"{LP}:{path.name}"], path.name
    jv = json.loads((data_dir / "joyvasa_manifest.json").read_text())
    hubert = json.loads((hub_tree / "TencentGameMate/chinese-hubert-base/config.json").read_text())
    assert hubert["model_type"] == "hubert"
    assert {k: hubert[k] for k in jv["audio_encoder_config"]} == jv["audio_encoder_config"]
    w2v = json.loads((hub_tree / "facebook/wav2vec2-base-960h/config.json").read_text())
    assert (w2v["model_type"], w2v["vocab_size"], w2v["hidden_size"], w2v["num_hidden_layers"]) == \
        ("wav2vec2", 32, 768, 12)


@pytest.mark.slow
def test_downloaded_full_size_files_load_with_the_real_loaders(hub, tmp_path, monkeypatch, face_image):
    """Download the bundles' files from the stand-in into ComfyUI-like model folders (byte-exact), then
    load them with the project's loaders: LivePortrait (public architecture), JoyVASA, the wav2vec2 encoder."""
    hf = pytest.importorskip("huggingface_hub")
    from playmate_core import FaceEngineConfig, load_face_engine
    from playmate_core.audio.encoder import AudioEncoder
    from playmate_core.model_files import BUNDLES
    from playmate_core.motion.joyvasa import load_joyvasa
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    folders = {k: tmp_path / k for k in ("liveportrait", "playmate", "audio_encoders")}
    for name in ("liveportrait", "joyvasa", "wav2vec2-base-960h"):
        for f in BUNDLES[name]:
            staging = tmp_path / "staging"
            got = Path(hf.hf_hub_download(f.repo_id, f.candidates[0], local_dir=str(staging), endpoint=hub.endpoint))
            dest = folders[f.folder] / f.dest
            dest.parent.mkdir(parents=True, exist_ok=True)
            got.replace(dest)
            assert dest.read_bytes() == (hub.root / f.repo_id / f.candidates[0]).read_bytes(), f.dest
    assert len(hub.downloaded()) == 11 and all(r.complete for r in hub.served())

    engine = load_face_engine(folders["liveportrait"])                # no config file: the public architecture
    assert engine.cfg == FaceEngineConfig.liveportrait()              # loaded strictly, every shape full size
    with torch.no_grad():                             # a whole 512x512 frame costs ~30 s here: not drawn
        f_s = engine.extract_appearance(face_image)
        x_s = engine.transform_keypoints(engine.extract_motion(face_image))
    assert f_s.shape == (1, 32, 16, 64, 64) and torch.isfinite(f_s).all() and torch.isfinite(x_s).all()

    p = folders["playmate"]
    model = load_joyvasa(p / "motion_generator_hubert_chinese.pt", p / "motion_template.pkl",
                         folders["audio_encoders"] / "chinese-hubert-base")
    assert model.cfg.feature_dim == 256 and model.meta["trained"] is False
    assert math.isclose(sum(v.numel() for v in model.audio_encoder.state_dict().values()) / 1e6, 94.37, abs_tol=0.01)

    encoder = AudioEncoder.from_pretrained(folders["audio_encoders"] / "wav2vec2-base-960h")
    assert (encoder.num_layers, encoder.hidden_size) == (12, 768)
