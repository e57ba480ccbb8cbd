"""The streaming downloader against the local hub stand-in (tools/hub_standin.py) over a tiny tree:
HF_ENDPOINT honoured, bytes exact, progress in bytes, HTTP errors, truncation, size bound and cancel all
leave nothing at the final path and no partial file."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from e2e.hub_standin import load_tool
from playmate_core import hub_download, model_files
from playmate_core.hub_download import DownloadError, download_file, file_url

PAYLOAD = os.urandom(3 * 1024 * 1024 + 17)       # 3 MiB + 17: several chunks and a short last one


class Cancelled(Exception):
    pass


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-hub")
    (root / "owner" / "repo" / "sub").mkdir(parents=True)
    (root / "owner" / "repo" / "sub" / "weights.bin").write_bytes(PAYLOAD)
    (root / "owner" / "repo" / "config.json").write_text('{"model_type": "hubert"}')
    with load_tool().HubStandin(root) as server:
        yield server


@pytest.fixture
def endpoint(hub, monkeypatch):
    hub.clear()
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint + "/")
    yield hub.endpoint
    hub.clear()


def _leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_hf_endpoint_is_read_at_call_time(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert file_url("a/b", "x/y z.pt") == "https://huggingface.co/a/b/resolve/main/x/y%20z.pt"
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    assert file_url("a/b", "c.json") == "http://127.0.0.1:9/a/b/resolve/main/c.json"
    assert model_files.BUNDLES["joyvasa"][0].url.startswith("http://127.0.0.1:9/jdh-algo/JoyVASA/resolve/main/")


def test_download_is_byte_exact_with_progress_in_bytes(endpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(hub_download, "PROGRESS_EVERY_S", 0.0)
    calls, checks = [], []
    dest = tmp_path / "models" / "weights.bin"
    got = download_file(file_url("owner/repo", "sub/weights.bin"), dest, progress=lambda d, t: calls.append((d, t)),
                        check=lambda: checks.append(1), chunk_bytes=1 << 20)
    assert got == dest and dest.read_bytes() == PAYLOAD
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD)) and all(t == len(PAYLOAD) for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and len(calls) >= 4
    assert len(checks) >= 4                                   # between every chunk
    assert _leftovers(dest.parent) == ["weights.bin"]


def test_missing_file_is_an_http_error_and_leaves_nothing(endpoint, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(file_url("owner/repo", "nope.bin"), tmp_path / "nope.bin")
    assert _leftovers(tmp_path) == []


def test_truncated_download_is_refused(endpoint, hub, tmp_path):
    hub.add_rule("owner/repo/sub/weights.bin", cut_after=1_500_000)
    with pytest.raises(DownloadError, match="truncated"):
        download_file(file_url("owner/repo", "sub/weights.bin"), tmp_path / "weights.bin")
    assert _leftovers(tmp_path) == []


def test_size_bound(endpoint, tmp_path):
    with pytest.raises(DownloadError, match="bound"):
        download_file(file_url("owner/repo", "sub/weights.bin"), tmp_path / "weights.bin", max_bytes=1 << 20)
    assert _leftovers(tmp_path) == []


def test_cancel_between_chunks_leaves_no_partial_file(endpoint, tmp_path):
    seen = []

    def check():
        seen.append(1)
        if len(seen) == 2:                                    # after the first chunk landed in the partial file
            assert any(p.name.endswith(".partial") for p in tmp_path.iterdir())
            raise Cancelled

    with pytest.raises(Cancelled):
        download_file(file_url("owner/repo", "sub/weights.bin"), tmp_path / "weights.bin", check=check)
    assert _leftovers(tmp_path) == []


def test_unreachable_host_names_the_host(tmp_path, monkeypatch):
    import socket
    with socket.socket() as s:                                # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(DownloadError, match=f"cannot reach 127.0.0.1:{port}"):
        download_file(file_url("owner/repo", "config.json"), tmp_path / "config.json", timeout=5)
    assert _leftovers(tmp_path) == []


def test_fetch_missing_tries_the_next_spelling_and_logs_the_licence(endpoint, hub, tmp_path, caplog):
    remote = model_files.RemoteFile("owner/repo", ("model.safetensors", "sub/weights.bin"), "audio_encoders",
                                    "enc/model.safetensors", "MIT (test)")
    dest = tmp_path / "enc" / "model.safetensors"
    with caplog.at_level("INFO", logger="playmate"):
        done = model_files.fetch_missing([(remote, dest)])
    assert done == [(tmp_path / "enc" / "weights.bin", "MIT (test)")]
    assert (tmp_path / "enc" / "weights.bin").read_bytes() == PAYLOAD
    assert "licence: MIT (test)" in caplog.text
    assert hub.downloaded() == ["owner/repo/sub/weights.bin"]
