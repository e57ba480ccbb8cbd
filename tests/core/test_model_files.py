"""The opt-in model download: offline mode lists paths, downloads land atomically, licences shown."""
from pathlib import Path

import pytest

from playmate_core import model_files


def _folders(tmp_path: Path) -> dict:
    return {k: str(tmp_path / k) for k in ("liveportrait", "audio_encoders", "playmate")}


def test_every_file_names_a_licence_and_a_hub_url():
    for name, files in model_files.BUNDLES.items():
        assert files, name
        for f in files:
            assert f.licence and ("MIT" in f.licence or "Apache" in f.licence)
            assert f.url.startswith("https://huggingface.co/")


def test_offline_lists_every_missing_path_with_source_and_licence(tmp_path):
    folders = _folders(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        model_files.fetch_bundle("liveportrait", folders, offline=True)
    msg = str(err.value)
    assert "offline" in msg and "5 public file(s)" in msg
    for slot in ("appearance_feature_extractor", "motion_extractor", "warping_module", "spade_generator",
                 "stitching_retargeting_module"):
        assert str(Path(folders["liveportrait"]) / f"{slot}.safetensors") in msg
    assert "Kijai/LivePortrait_safetensors" in msg and "MIT" in msg


def test_download_places_missing_files_only_and_falls_back_to_the_second_spelling(tmp_path):
    folders = _folders(tmp_path)
    enc = Path(folders["audio_encoders"]) / "wav2vec2-base-960h"
    enc.mkdir(parents=True)
    (enc / "config.json").write_text("{}")                      # already present: must not be fetched
    calls = []

    def fake_download(url, dest, progress=None, check=None):
        calls.append(url.rsplit("/", 1)[1])
        if dest.name == "model.safetensors":
            raise model_files.DownloadError("HTTP 404")           # the hub lacks it: try pytorch_model.bin
        dest.write_bytes(b"x")
        return dest

    done = model_files.fetch_bundle("wav2vec2-base-960h", folders, offline=False, download=fake_download)
    assert calls == ["preprocessor_config.json", "model.safetensors", "pytorch_model.bin"]
    assert (enc / "pytorch_model.bin").is_file() and (enc / "preprocessor_config.json").is_file()
    assert sorted(p.name for p in enc.iterdir()) == ["config.json", "preprocessor_config.json", "pytorch_model.bin"]
    assert all(lic.startswith("Apache-2.0") for _, lic in done)
    # now complete: offline passes and the report says present
    model_files.fetch_bundle("wav2vec2-base-960h", folders, offline=True)
    assert "[missing]" not in model_files.describe_bundle("wav2vec2-base-960h", folders)


def test_failed_download_names_the_url_and_leaves_no_file(tmp_path):
    folders = _folders(tmp_path)

    def broken(url, dest, progress=None, check=None):
        raise model_files.DownloadError("no network")

    with pytest.raises(model_files.DownloadError, match="could not download https://huggingface.co/Kijai"):
        model_files.fetch_bundle("liveportrait", folders, offline=False, download=broken)
    assert not any(Path(folders["liveportrait"]).glob("*.safetensors"))


def test_missing_message_lists_files_urls_folders_and_the_fix(tmp_path):
    folders = _folders(tmp_path)
    missing = model_files.missing_files(["joyvasa", "liveportrait"], folders)
    assert len(missing) == 8
    msg = model_files.missing_message(missing, "Nothing usable is installed.", "Turn download on.")
    assert msg.startswith("Nothing usable is installed. 8 public file(s) are missing:") and "Turn download on." in msg
    for f, path in missing:
        assert str(path) in msg and f.url in msg and f.licence in msg
    for key in ("playmate", "audio_encoders", "liveportrait"):
        assert str(Path(folders[key])) in msg.split("Folders: ")[1]
    # present files are not listed again; a template without its checkpoint is fetched with it
    (Path(folders["playmate"])).mkdir()
    (Path(folders["playmate"]) / "motion_template.pkl").write_bytes(b"x")
    assert len(model_files.missing_files(["joyvasa"], folders)) == 3
    (Path(folders["playmate"]) / "motion_generator_hubert_chinese.pt").write_bytes(b"x")
    assert [p.name for _, p in model_files.missing_files(["joyvasa"], folders)] == ["config.json"]


def test_unknown_bundle_names_the_choices(tmp_path):
    with pytest.raises(ValueError, match="liveportrait"):
        model_files.plan_bundle("nope", _folders(tmp_path))


def test_joyvasa_files_land_where_load_playmate_models_looks(tmp_path):
    plan = {f.dest: (f.folder, present) for f, _, present in model_files.plan_bundle("joyvasa", _folders(tmp_path))}
    assert plan == {"motion_generator_hubert_chinese.pt": ("playmate", False),
                    "motion_template.pkl": ("playmate", False),            # beside the checkpoint
                    "chinese-hubert-base/config.json": ("audio_encoders", False)}
