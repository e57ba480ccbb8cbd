"""The evaluation report in the layout of the paper's Table 1, as JSON and Markdown.

One table per dataset. Columns, in the paper's order: FID↓ FVD↓ Sync-C↑ Sync-D↓ CSIM↑ LPIPS↓, then
the optional weight-free motion columns (`motion_report`). Rows: this run first, then (with
`paper=`) the published rows of `paper_table1.json` or of a user file in the same schema:

    {"paper": str, "table": str, "columns": [...],
     "datasets": {"HDTF": {"source": url | null, "note": str, "rows": [{"method": str, "FID": float | null, ...}]}}}

A missing value (not computed, not published) is shown as "–"; what was not computed and why, and
every warning of the run (e.g. FID on too few samples), are listed under the table.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PAPER_TABLE = Path(__file__).with_name("paper_table1.json")
MISSING = "–"
FORMAT, VERSION = "playmate-eval-report", 1


@dataclass(frozen=True)
class Column:
    """key: result key; label: header; better: 'lower' | 'higher' | 'target' (closest to `target` is
    best) | 'none' (descriptive, e.g. the amount of head motion)."""
    key: str
    label: str
    better: str
    digits: int = 3
    target: float | None = None

    @property
    def header(self) -> str:
        if self.better in ("lower", "higher"):
            return self.label + ("↓" if self.better == "lower" else "↑")
        return self.label + (f"→{self.target:g}" if self.target is not None else "")


TABLE1_COLUMNS = (
    Column("FID", "FID", "lower"), Column("FVD", "FVD", "lower"),
    Column("Sync-C", "Sync-C", "higher"), Column("Sync-D", "Sync-D", "lower"),
    Column("CSIM", "CSIM", "higher"), Column("LPIPS", "LPIPS", "lower"),
)
MOTION_COLUMNS = (
    Column("lip_r", "Lip r", "higher"), Column("lip_lag", "Lip lag", "target", digits=2, target=0.0),
    Column("silence_ratio", "Silence open", "lower"), Column("jerk_exp", "Jerk exp", "lower", digits=5),
    Column("seam_score", "Seam", "target", digits=2, target=1.0), Column("delta_p", "ΔP", "none"),
)
METRIC_KEYS = tuple(c.key for c in TABLE1_COLUMNS)
_ALL_KEYS = {c.key for c in TABLE1_COLUMNS + MOTION_COLUMNS}


def _number(value) -> float | None:
    """A finite float, or None for missing / NaN / inf."""
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def load_paper_table(path: str | Path | None = None) -> dict:
    """Read and check a published-rows file (schema in the module doc); default: the shipped one."""
    path = Path(path) if path is not None else PAPER_TABLE
    if not path.is_file():
        raise FileNotFoundError(f"--paper-rows file '{path}' does not exist; pass a JSON file in the schema of "
                                f"{PAPER_TABLE.name} (see playmate_core/eval/table.py).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"paper rows '{path}' is not valid JSON ({exc}).") from exc
    datasets = data.get("datasets") if isinstance(data, dict) else None
    if not isinstance(datasets, dict):
        raise ValueError(f"paper rows '{path}': expected an object with a 'datasets' mapping, see {PAPER_TABLE.name}.")
    for name, block in datasets.items():
        rows = block.get("rows") if isinstance(block, dict) else None
        if not isinstance(rows, list):
            raise ValueError(f"paper rows '{path}': dataset '{name}' needs a 'rows' list (may be empty).")
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not isinstance(row.get("method"), str):
                raise ValueError(f"paper rows '{path}': {name} row {i} needs a 'method' name.")
            unknown = sorted(set(row) - {"method", *METRIC_KEYS})
            if unknown:
                raise ValueError(f"paper rows '{path}': {name} row {i} has unknown key(s) {unknown}; "
                                 f"allowed: method, {', '.join(METRIC_KEYS)}.")
            for key in METRIC_KEYS:
                if row.get(key) is not None and (isinstance(row[key], bool) or not isinstance(row[key], (int, float))):
                    raise ValueError(f"paper rows '{path}': {name} row {i} {key} must be a number or null.")
    return data


def merge_paper_tables(base: dict, extra: dict | None) -> dict:
    """`extra`'s datasets replace `base`'s of the same name (a user's --paper-rows over the shipped file)."""
    if extra is None:
        return base
    return {**base, "datasets": {**base.get("datasets", {}), **extra["datasets"]}}


def _row(method: str, origin: str, values: dict) -> dict:
    return {"method": method, "origin": origin,
            "values": {k: _number(values.get(k)) for k in values if k in _ALL_KEYS}}


def dataset_table(result: dict, paper: dict | None = None) -> dict:
    """One dataset's table from a run result (`run.evaluate`) and, optionally, the published rows."""
    name = result["dataset"]
    motion = (result.get("motion") or {}).get("mean") or {}
    rows = [_row(result.get("method", "this run"), "this run", {**result.get("metrics", {}), **motion})]
    table = {"dataset": name, "columns": [c.key for c in TABLE1_COLUMNS], "rows": rows,
             "not_computed": dict(result.get("not_computed", {})), "warnings": list(result.get("warnings", [])),
             "notes": list(result.get("notes", [])), "videos": result.get("videos"), "frames": result.get("frames")}
    if motion:
        table["columns"] += [c.key for c in MOTION_COLUMNS]
    if paper is not None:
        block = paper.get("datasets", {}).get(name)
        if block is None:
            known = ", ".join(paper.get("datasets", {})) or "none"
            table["paper"] = {"source": None, "note": f"no published rows for dataset '{name}' (known: {known}); "
                                                      f"use --dataset with one of those names or --paper-rows FILE"}
        else:
            table["paper"] = {"source": block.get("source"), "note": block.get("note")}
            rows += [_row(r["method"], "paper", r) for r in block["rows"]]
    return table


def build_report(results: list[dict], paper: dict | None = None) -> dict:
    """The whole report: one table per dataset result, in order."""
    columns = {c.key: {"label": c.label, "header": c.header, "better": c.better, "target": c.target}
               for c in TABLE1_COLUMNS + MOTION_COLUMNS}
    return {"format": FORMAT, "version": VERSION, "columns": columns,
            "paper": None if paper is None else paper.get("paper"),
            "tables": [dataset_table(r, paper) for r in results]}


def _fmt(value: float | None, column: Column) -> str:
    return MISSING if value is None else f"{value:.{column.digits}f}"


def _best(rows: list[dict], column: Column) -> float | None:
    values = [r["values"].get(column.key) for r in rows]
    values = [v for v in values if v is not None]
    if len(values) < 2 or column.better not in ("lower", "higher"):
        return None
    return min(values) if column.better == "lower" else max(values)


def table_markdown(table: dict) -> str:
    """One dataset's table as Markdown (best value per column in bold when several rows have one)."""
    by_key = {c.key: c for c in TABLE1_COLUMNS + MOTION_COLUMNS}
    cols = [by_key[k] for k in table["columns"]]
    lines = [f"## {table['dataset']}", "",
             "| Method | " + " | ".join(c.header for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    best = {c.key: _best(table["rows"], c) for c in cols}
    for row in table["rows"]:
        cells = []
        for c in cols:
            value, text = row["values"].get(c.key), _fmt(row["values"].get(c.key), c)
            cells.append(f"**{text}**" if value is not None and value == best[c.key] else text)
        label = row["method"] if row["origin"] == "this run" else f"{row['method']} (paper)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    if table.get("videos") is not None:
        lines.append(f"{table['videos']} video(s), {table['frames']} frame(s).")
    for key, why in table["not_computed"].items():
        lines.append(f"- {key}: {why}")
    for text in table["notes"]:
        lines.append(f"- note: {text}")
    for text in table["warnings"]:
        lines.append(f"- warning: {text}")
    paper = table.get("paper")
    if paper:
        if paper.get("source"):
            lines.append(f"- published rows: {paper['source']}")
        if paper.get("note"):
            lines.append(f"- published rows: {paper['note']}")
    return "\n".join(lines).rstrip() + "\n"


def report_markdown(report: dict) -> str:
    head = ["# Evaluation (layout of Playmate Table 1)", ""]
    if report.get("paper"):
        head += [f"Published rows from: {report['paper']}", ""]
    return "\n".join(head) + "\n" + "\n".join(table_markdown(t) for t in report["tables"])


def _clean(obj):
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> numbers, tuples -> lists, Paths -> str."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):                        # numpy scalars -> Python numbers
        return _clean(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_report(report: dict, out_dir: str | Path, results: list[dict] | None = None) -> tuple[Path, Path]:
    """Write report.json (tables + full run results) and report.md into `out_dir`; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "report.json", out / "report.md"
    payload = {**report, "results": results or []}
    json_path.write_text(json.dumps(_clean(payload), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                         encoding="utf-8")
    md_path.write_text(report_markdown(report), encoding="utf-8")
    return json_path, md_path
