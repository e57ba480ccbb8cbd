"""Label readers for the public datasets' conventions (prepare_data --label-format)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.label_readers import read_label_rows, text_emotion
from trainer.labels_csv import label_fields


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_mead_folder_and_flat_names(tmp_path):
    videos = [touch(tmp_path / "M003/video/front/angry/level_3/001.mp4"),
              touch(tmp_path / "W011/video/front/neutral/level_1/014.mp4"),
              touch(tmp_path / "flat/M005_front_surprised_level_2_007.mp4"),
              touch(tmp_path / "other/interview.mp4")]
    rows = read_label_rows("mead", None, tmp_path, videos)
    got = {Path(k).relative_to(tmp_path.resolve()).as_posix(): label_fields(r, "x", Path(k), tmp_path.resolve())
           for k, r in rows.items()}
    assert got == {"M003/video/front/angry/level_3/001.mp4": {"identity": "M003", "emotion": "angry", "intensity": 3},
                   "W011/video/front/neutral/level_1/014.mp4": {"identity": "W011", "emotion": "neutral",
                                                                "intensity": 1},
                   "flat/M005_front_surprised_level_2_007.mp4": {"identity": "M005", "emotion": "surprised",
                                                                 "intensity": 2}}
    with pytest.raises(ValueError, match="MEAD emotion"):
        read_label_rows("mead", None, tmp_path, [videos[-1]])


def test_celebvtext_descriptions(tmp_path):
    desc = tmp_path / "emotion"
    desc.mkdir()
    (desc / "0-5BrmyFsYM_0.txt").write_text("The man looks happy. He is smiling while talking. Then calm.")
    (desc / "abc_3.txt").write_text("She seems sad and unhappy.")
    (desc / "none_1.txt").write_text("A woman talks to the camera.")
    videos = [touch(tmp_path / "v" / f"{n}.mp4") for n in ("0-5BrmyFsYM_0", "abc_3", "none_1", "missing_2")]
    rows = read_label_rows("celebvtext", desc, tmp_path / "v", videos)
    assert {Path(k).stem: (r["identity"], r["emotion"]) for k, r in rows.items()} == {
        "0-5BrmyFsYM_0": ("0-5BrmyFsYM", "happy"), "abc_3": ("abc", "sad"), "none_1": ("none", "")}
    (tmp_path / "e.json").write_text(json.dumps({"clips": {"abc_3": {"emotion": "surprise"}}}))
    rows = read_label_rows("celebvtext", tmp_path / "e.json", tmp_path / "v", videos)
    assert [r["emotion"] for r in rows.values()] == ["surprised"]
    assert text_emotion("angry, then happy, happy") == "happy"
    with pytest.raises(ValueError, match="needs --labels"):
        read_label_rows("celebvtext", None, tmp_path, videos)
