"""Command line: the paper's Table 1 metrics (and optional motion metrics) in one command.

    python -m playmate_core.eval --generated GEN_DIR --reference REF_DIR --out OUT_DIR \
        [--audio DIR] [--source-images DIR] [--motion DIR] [--dataset HDTF] \
        [--inception pt_inception-2015-12-05-6726825d.pth] [--i3d i3d_pretrained_400.pt] \
        [--syncnet syncnet_v2.model] [--arcface backbone.pth] \
        [--lpips-alexnet alexnet-owt-7be5be79.pth --lpips-linear alex.pth] [--device cuda] [--compare-paper]

Writes OUT_DIR/report.json and OUT_DIR/report.md and prints the Markdown table. Exit status 0 on
success, 2 with a one-line "error: ..." on bad input (missing file, unreadable video, mismatch).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..loading import CheckpointError
from .media import DEFAULT_FPS
from .run import WEIGHTS, EvalConfig, evaluate
from .table import build_report, load_paper_table, merge_paper_tables, report_markdown, write_report

log = logging.getLogger("playmate")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m playmate_core.eval",
        description="Evaluate generated talking-head videos against references with the metrics of the Playmate "
                    "paper's Table 1 (FID, FVD, Sync-C, Sync-D, CSIM, LPIPS). Each metric runs only when its "
                    "public weight file is given; nothing is downloaded.")
    io = p.add_argument_group("inputs and outputs")
    io.add_argument("--generated", type=Path, required=True,
                    help="folder of generated clips: videos (mp4, mov, mkv, webm, avi) or folders of png/jpg frames")
    io.add_argument("--reference", type=Path, required=True,
                    help="folder of ground-truth clips, named like the generated ones (clip01.mp4 <-> clip01.mp4)")
    io.add_argument("--audio", type=Path, default=None,
                    help="folder of driving audio <stem>.wav/.flac/.mp3 for Sync and motion metrics "
                         "(default: the generated video's sound track)")
    io.add_argument("--source-images", type=Path, default=None,
                    help="folder of source portraits <stem>.png/.jpg for CSIM (default: the reference's first frame)")
    io.add_argument("--motion", type=Path, default=None,
                    help="folder of <stem>.motion.safetensors (Save Motion node) for the weight-free motion metrics")
    io.add_argument("--dataset", default="custom",
                    help="dataset name used as the table title and to pick the published rows (e.g. HDTF)")
    io.add_argument("--method", default="this run", help="row label of this run in the table")
    io.add_argument("--out", type=Path, required=True, help="output folder for report.json and report.md")
    w = p.add_argument_group("weights (each optional: a metric without its file is reported 'not computed')")
    for key, spec in WEIGHTS.items():
        w.add_argument(spec.flag, dest=key, type=Path, default=None, metavar="PATH",
                       help=f"{'/'.join(spec.metrics)}: {spec.public}")
    o = p.add_argument_group("options")
    o.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device for the networks")
    o.add_argument("--trim", action="store_true",
                   help="cut a generated clip and its reference to the shorter length instead of failing")
    o.add_argument("--fid-frames-per-video", type=int, default=None, metavar="N",
                   help="FID on N evenly spaced frames per video instead of all frames")
    o.add_argument("--fps", type=float, default=DEFAULT_FPS,
                   help=f"frame rate of frame-folder clips (videos carry their own; default {DEFAULT_FPS:g})")
    o.add_argument("--compare-paper", action="store_true",
                   help="add the paper's published rows for --dataset beside this run")
    o.add_argument("--paper-rows", type=Path, default=None, metavar="FILE",
                   help="JSON file of published rows (schema of playmate_core/eval/paper_table1.json); "
                        "its datasets replace the shipped ones (implies --compare-paper)")
    o.add_argument("-v", "--verbose", action="store_true", help="log progress")
    return p


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    return EvalConfig(generated=args.generated, reference=args.reference,
                      weights={key: getattr(args, key) for key in WEIGHTS}, audio=args.audio,
                      source_images=args.source_images, motion=args.motion, dataset=args.dataset,
                      method=args.method, device=args.device, trim=args.trim,
                      fid_frames_per_video=args.fid_frames_per_video, fps=args.fps)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        paper = None
        if args.compare_paper or args.paper_rows is not None:
            extra = load_paper_table(args.paper_rows) if args.paper_rows is not None else None
            paper = merge_paper_tables(load_paper_table(), extra)
        cfg = config_from_args(args)
        if args.device == "cuda":
            import torch
            if not torch.cuda.is_available():
                raise RuntimeError("--device cuda was given but torch sees no CUDA device; use --device cpu.")
        result = evaluate(cfg)
        report = build_report([result], paper)
        json_path, md_path = write_report(report, args.out, [result])
    except (FileNotFoundError, CheckpointError, ValueError, RuntimeError, OSError) as exc:
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        return 2
    sys.stdout.write(report_markdown(report) + f"\nwrote {json_path} and {md_path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
