"""Reading evaluation inputs: videos or frame folders, their audio, and generated/reference pairing.

* An *item* is a video file (mp4, mov, mkv, webm, avi) or a folder of frames (png, jpg) named
  naturally (frame2 < frame10). Its *stem* ("clip01" for clip01.mp4 or the folder clip01/) pairs a
  generated item with its reference, its audio and its source portrait.
* `read_clip(path)` -> Clip(frames (T,H,W,3) uint8 RGB, fps). Folders carry no frame rate: the
  caller gives one (the CLI's --fps, default 25).
* `read_audio(path)` -> (S,) float32, 16 kHz mono (any container PyAV decodes, video files included).
* `align_lengths` refuses generated/reference clips of different length unless `trim=True`, which
  cuts both to the shorter and returns a note saying so.
* `resize_to(frames, (H, W))`: frame-wise metrics (LPIPS) need equal sizes; the REFERENCE is resized
  to the generated size (INTER_AREA when shrinking, INTER_CUBIC when enlarging), never the reverse,
  so the generated pixels are scored as they are.
* `resample_fps` picks, for each tick k / target_fps, the nearest earlier-or-equal source frame
  (SyncNet expects 25 fps).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("playmate")

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg") + VIDEO_EXTENSIONS
DEFAULT_FPS = 25.0
AUDIO_RATE = 16000                         # Hz; read_audio's output rate (playmate_core.audio.io.SAMPLE_RATE)
MOTION_SUFFIX = ".motion.safetensors"      # as playmate_core.pipeline.motion_file writes


class MediaError(ValueError):
    """An input file or folder cannot be used for evaluation (unreadable, empty, mismatched)."""


@dataclass(frozen=True)
class Clip:
    """frames: (T,H,W,3) uint8 RGB; fps: frames per second; path: where it was read from."""
    frames: np.ndarray
    fps: float
    path: Path

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


def natural_key(name: str) -> list:
    """Sort key with digit runs compared as numbers: 'f2.png' < 'f10.png'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def item_stem(path: Path) -> str:
    """'clip01' for clip01.mp4, clip01/ and clip01.motion.safetensors."""
    if path.name.endswith(MOTION_SUFFIX):
        return path.name[: -len(MOTION_SUFFIX)]
    return path.name if path.is_dir() else path.stem


def _frame_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda p: natural_key(p.name))


def list_items(root: str | Path, what: str) -> dict[str, Path]:
    """{stem: path} of the videos and frame folders directly inside `root` (`what` names the flag)."""
    root = Path(root)
    if not root.is_dir():
        raise MediaError(f"{what} '{root}' is not a folder; pass a folder of videos "
                         f"({', '.join(VIDEO_EXTENSIONS)}) or of frame folders (png/jpg).")
    items: dict[str, Path] = {}
    for path in sorted(root.iterdir(), key=lambda p: natural_key(p.name)):
        is_video = path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS
        if not (is_video or (path.is_dir() and _frame_files(path))):
            continue
        stem = item_stem(path)
        if stem in items:
            raise MediaError(f"{what} '{root}' holds two items named '{stem}' ({items[stem].name}, {path.name}); "
                             f"keep one video or frame folder per name.")
        items[stem] = path
    if not items:
        raise MediaError(f"{what} '{root}' holds no videos ({', '.join(VIDEO_EXTENSIONS)}) and no folders of "
                         f"png/jpg frames; put the clips directly inside it.")
    return items


def pair_items(generated: str | Path, reference: str | Path) -> list[tuple[str, Path, Path]]:
    """[(stem, generated path, reference path)] matched by stem, in natural order.

    Every generated item needs a reference of the same stem; extra references are ignored (logged).
    """
    gen, ref = list_items(generated, "--generated"), list_items(reference, "--reference")
    missing = [s for s in gen if s not in ref]
    if missing:
        raise MediaError(f"no reference for generated item(s) {missing[:5]} in --reference '{reference}'; name "
                         f"each reference like its generated clip (e.g. {missing[0]}.mp4).")
    extra = [s for s in ref if s not in gen]
    if extra:
        log.warning("%d reference item(s) without a generated clip are ignored: %s", len(extra), extra[:5])
    return [(stem, gen[stem], ref[stem]) for stem in gen]


def find_by_stem(root: str | Path | None, stem: str, extensions: tuple) -> Path | None:
    """The file `root/<stem><ext>` for the first matching extension (case-insensitive), or None."""
    if root is None:
        return None
    for path in sorted(Path(root).iterdir(), key=lambda p: natural_key(p.name)):
        if path.is_file() and path.stem == stem and path.suffix.lower() in extensions:
            return path
    return None


def read_video(path: str | Path) -> Clip:
    """Decode every frame of the first video stream with PyAV -> Clip (T,H,W,3) uint8 RGB."""
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"video '{path}' does not exist.")
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"'{path}' has no video stream; pass a video file or a folder of frames.")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]   # T x (H,W,3)
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot decode video '{path}' ({exc}); the file is corrupt or not a video. Re-encode "
                         f"it (e.g. ffmpeg -i in -c:v libx264 -pix_fmt yuv420p out.mp4) or pass its frames "
                         f"as a folder of png files.") from exc
    if not frames:
        raise MediaError(f"video '{path}' has no decodable frames; re-encode it or pass a frame folder.")
    fps = float(rate) if rate else DEFAULT_FPS
    if not rate:
        log.warning("%s: no frame rate in the file, assuming %g fps", path, fps)
    return Clip(frames=np.stack(frames), fps=fps, path=path)                          # T,H,W,3


def read_frame_folder(path: str | Path, fps: float = DEFAULT_FPS) -> Clip:
    """A folder of png/jpg frames in natural order -> Clip; every frame must have the same size."""
    import cv2

    path = Path(path)
    if not path.is_dir():
        raise MediaError(f"frame folder '{path}' does not exist.")
    files = _frame_files(path)
    if not files:
        raise MediaError(f"frame folder '{path}' is empty (no {', '.join(IMAGE_EXTENSIONS)} files); put the "
                         f"frames of one clip in it, named in order (0001.png, 0002.png, ...).")
    frames = []
    for file in files:
        bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if bgr is None:
            raise MediaError(f"cannot read image '{file}'; it is corrupt or not a png/jpg. Re-export it.")
        if frames and bgr.shape != frames[0].shape:
            raise MediaError(f"'{file}' is {bgr.shape[1]}x{bgr.shape[0]} but '{files[0].name}' is "
                             f"{frames[0].shape[1]}x{frames[0].shape[0]}; all frames of a clip must share one size.")
        frames.append(bgr)
    rgb = np.stack(frames)[..., ::-1]                                                 # T,H,W,3 BGR -> RGB
    return Clip(frames=np.ascontiguousarray(rgb), fps=float(fps), path=path)


def read_clip(path: str | Path, fps: float = DEFAULT_FPS) -> Clip:
    """A video file or a frame folder (`fps` is used for folders only)."""
    path = Path(path)
    return read_frame_folder(path, fps) if path.is_dir() else read_video(path)


def read_image(path: str | Path) -> np.ndarray:
    """One png/jpg -> (H,W,3) uint8 RGB."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(f"cannot read image '{path}'; pass a png or jpg portrait.")
    return np.ascontiguousarray(bgr[..., ::-1])


def read_audio(path: str | Path) -> np.ndarray:
    """The first audio stream of `path` (wav, flac, mp3, m4a, or a video's sound track) -> (S,) float32 16 kHz."""
    from ..audio.io import SAMPLE_RATE, load_audio_file

    try:
        waveform, rate = load_audio_file(path, SAMPLE_RATE)
    except FileNotFoundError as exc:
        raise MediaError(str(exc)) from exc
    except ValueError as exc:
        raise MediaError(f"{exc} For lip sync give --audio DIR holding <stem>.wav for each clip.") from exc
    if waveform.numel() == 0:
        raise MediaError(f"the audio of '{path}' is empty; give --audio DIR with the driving speech.")
    return waveform.numpy()


def align_lengths(gen: Clip, ref: Clip, *, trim: bool) -> tuple[Clip, Clip, str | None]:
    """Equal frame counts for frame-wise metrics -> (gen, ref, note or None); see the module doc."""
    if gen.num_frames == ref.num_frames:
        return gen, ref, None
    if not trim:
        raise MediaError(f"generated '{gen.path}' has {gen.num_frames} frames but its reference '{ref.path}' has "
                         f"{ref.num_frames}; generate the same length, or pass --trim to cut both to the shorter.")
    n = min(gen.num_frames, ref.num_frames)
    note = (f"trimmed to {n} frames (generated {gen.num_frames}, reference {ref.num_frames}) because of --trim")
    log.info("%s: %s", gen.path.name, note)
    return (Clip(gen.frames[:n], gen.fps, gen.path), Clip(ref.frames[:n], ref.fps, ref.path), note)


def resize_to(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T,H,W,3) uint8 -> (T,size[0],size[1],3); unchanged if already that size."""
    import cv2

    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    shrink = frames.shape[1] * frames.shape[2] > h * w
    interp = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in frames])   # T,h,w,3


def resample_fps(frames: np.ndarray, fps: float, target_fps: float) -> np.ndarray:
    """(T,...) at `fps` -> (round(T * target / fps), ...) at `target_fps`, nearest earlier source frame."""
    if abs(fps - target_fps) < 1e-6:
        return frames
    n_out = max(1, int(round(len(frames) * target_fps / fps)))
    idx = np.minimum(np.floor(np.arange(n_out) * fps / target_fps + 1e-9).astype(np.int64), len(frames) - 1)
    return frames[idx]


def even_sample(n_total: int, n_pick: int | None) -> np.ndarray:
    """Indices of `n_pick` frames spread evenly over 0..n_total-1 (all frames when None or >= n_total)."""
    if n_pick is None or n_pick >= n_total:
        return np.arange(n_total)
    return np.unique(np.round(np.linspace(0, n_total - 1, n_pick)).astype(np.int64))
