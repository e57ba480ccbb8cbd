"""The Table-1 report: column order and arrows, missing values, published rows side by side, JSON."""
from __future__ import annotations

import json

import numpy as np
import pytest

from playmate_core.eval import table

HEADER = "| Method | FID↓ | FVD↓ | Sync-C↑ | Sync-D↓ | CSIM↑ | LPIPS↓ |"


def result(**over) -> dict:
    base = {"dataset": "HDTF", "method": "ours", "videos": 2, "frames": 40,
            "metrics": {"FID": 12.3456, "FVD": None, "Sync-C": 7.5, "Sync-D": 7.25, "CSIM": 0.8123,
                        "LPIPS": float("nan")},
            "not_computed": {"FVD": "not computed (give --i3d PATH, the public file i3d_pretrained_400.pt)"},
            "warnings": ["FID: only 8 samples for 2048-d features"], "notes": ["a: trimmed to 20 frames"]}
    return {**base, **over}


def paper_file(tmp_path, rows=None, **block) -> str:
    rows = rows if rows is not None else [
        {"method": "Other", "FID": 20.0, "FVD": 300.0, "Sync-C": 8.0, "Sync-D": 7.0, "CSIM": 0.7, "LPIPS": 0.2},
        {"method": "Partial", "FID": 10.0, "Sync-C": None}]
    data = {"paper": "Some paper", "datasets": {"HDTF": {"source": "https://example.org/t1", "rows": rows, **block}}}
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(data))
    return path


def test_markdown_layout_arrows_and_missing_values():
    md = table.report_markdown(table.build_report([result()]))
    lines = md.splitlines()
    assert "## HDTF" in lines
    assert HEADER in lines
    row = next(line for line in lines if line.startswith("| ours |"))
    assert row == "| ours | 12.346 | – | 7.500 | 7.250 | 0.812 | – |"          # None and NaN -> "–"
    assert "- FVD: not computed (give --i3d PATH, the public file i3d_pretrained_400.pt)" in lines
    assert "- warning: FID: only 8 samples for 2048-d features" in lines
    assert "- note: a: trimmed to 20 frames" in lines
    assert "2 video(s), 40 frame(s)." in lines


def test_column_order_is_the_papers():
    headers = [c.header for c in table.TABLE1_COLUMNS]
    assert headers == ["FID↓", "FVD↓", "Sync-C↑", "Sync-D↓", "CSIM↑", "LPIPS↓"]


def test_paper_rows_side_by_side_with_best_in_bold(tmp_path):
    paper = table.load_paper_table(paper_file(tmp_path))
    report = table.build_report([result()], paper)
    t = report["tables"][0]
    origins = [(r["method"], r["origin"]) for r in t["rows"]]
    assert origins == [("ours", "this run"), ("Other", "paper"), ("Partial", "paper")]
    assert t["paper"]["source"] == "https://example.org/t1"
    md = table.table_markdown(t)
    # best per column in bold; a column with a single value (FVD, LPIPS) has nothing to compare
    assert "| Other (paper) | 20.000 | 300.000 | **8.000** | **7.000** | 0.700 | 0.200 |" in md
    assert "| Partial (paper) | **10.000** | – | – | – | – | – |" in md
    assert "| ours | 12.346 | – | 7.500 | 7.250 | **0.812** | – |" in md
    assert "published rows: https://example.org/t1" in md


def test_unknown_dataset_says_which_are_known(tmp_path):
    paper = table.load_paper_table(paper_file(tmp_path))
    t = table.build_report([result(dataset="VFHQ")], paper)["tables"][0]
    assert len(t["rows"]) == 1 and "known: HDTF" in t["paper"]["note"]


def test_shipped_paper_table_is_valid_and_invents_nothing():
    paper = table.load_paper_table()
    assert "HDTF" in paper["datasets"]
    for name, block in paper["datasets"].items():
        # rows are only allowed together with the URL they were copied from
        assert block["rows"] == [] or block["source"], name
        if not block["rows"]:
            assert "--paper-rows" in block["note"]


def test_user_rows_replace_the_shipped_dataset(tmp_path):
    merged = table.merge_paper_tables(table.load_paper_table(), table.load_paper_table(paper_file(tmp_path)))
    assert [r["method"] for r in merged["datasets"]["HDTF"]["rows"]] == ["Other", "Partial"]


@pytest.mark.parametrize("rows, match", [
    ([{"FID": 1.0}], "needs a 'method'"),
    ([{"method": "x", "PSNR": 30.0}], "unknown key.*PSNR"),
    ([{"method": "x", "FID": "12"}], "FID must be a number"),
])
def test_bad_paper_rows_are_refused(tmp_path, rows, match):
    with pytest.raises(ValueError, match=match):
        table.load_paper_table(paper_file(tmp_path, rows=rows))


def test_missing_paper_file_names_the_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match="--paper-rows"):
        table.load_paper_table(tmp_path / "nope.json")


def test_motion_columns_only_when_measured():
    plain = table.table_markdown(table.build_report([result()])["tables"][0])
    assert "Lip r" not in plain
    motion = {"mean": {"lip_r": 0.61, "lip_lag": 0.5, "silence_ratio": 0.3, "jerk_exp": 0.0001,
                       "seam_score": 1.1, "delta_p": 0.4}}
    md = table.table_markdown(table.build_report([result(motion=motion)])["tables"][0])
    assert HEADER + " Lip r↑ | Lip lag→0 | Silence open↓ | Jerk exp↓ | Seam→1 | ΔP |" in md
    assert "| 0.610 | 0.50 | 0.300 | 0.00010 | 1.10 | 0.400 |" in md


def test_json_and_markdown_files(tmp_path):
    res = result(per_video={"a": {"CSIM": np.float32(0.5), "sync_offset": np.int64(-2), "inf": float("inf")}})
    report = table.build_report([res], table.load_paper_table(paper_file(tmp_path)))
    json_path, md_path = table.write_report(report, tmp_path / "out", [res])
    data = json.loads(json_path.read_text())                  # strict JSON: NaN became null
    assert data["format"] == "playmate-eval-report"
    ours = data["tables"][0]["rows"][0]["values"]
    assert ours["FID"] == pytest.approx(12.3456) and ours["FVD"] is None and ours["LPIPS"] is None
    assert data["columns"]["Sync-C"]["better"] == "higher"
    assert data["results"][0]["metrics"]["LPIPS"] is None
    assert data["results"][0]["per_video"]["a"] == {"CSIM": 0.5, "sync_offset": -2, "inf": None}
    assert md_path.read_text() == table.report_markdown(report)
