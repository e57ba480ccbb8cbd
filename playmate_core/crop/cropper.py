"""FaceCropper: detect landmarks, build LivePortrait's crop, return everything paste-back needs.

Per image:  to_rgb_uint8 -> backend.detect -> faces[face_index] -> crop_matrices (geometry.py)
            -> crop_512 = warpAffine(image, M_o2c, 512x512, INTER_LINEAR, constant-0 border)
            -> input_256 = resize(crop_512, 256x256, INTER_AREA).
The image is used at the size it is given: call :func:`~.images.resize_to_limit` first to follow
LivePortrait's 1280-px limit on the source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .backends import make_backend
from .detection import LandmarkBackend
from .geometry import crop_matrices, layout_for, transform_points
from .images import to_rgb_uint8

logger = logging.getLogger("playmate")

NETWORK_SIZE = 256
"""Side of LivePortrait's network input (F and M take 256x256)."""
ON_MISSING = ("skip", "hold", "error")


@dataclass(frozen=True)
class CropInfo:
    """One cropped face.

    Attributes:
        crop_512: (dsize, dsize, 3) uint8 RGB crop (dsize is 512 by default).
        input_256: (256, 256, 3) uint8 RGB, crop_512 resized with INTER_AREA (network input).
        M_o2c: (3, 3) float32, original-image pixels -> crop pixels.
        M_c2o: (3, 3) float32, crop pixels -> original-image pixels (inverse of M_o2c).
        landmarks: (N, 2) float32 landmarks in original-image pixels.
        landmarks_crop: (N, 2) float32 landmarks in crop pixels.
        source_size: (H, W) of the original image.
        layout: landmark layout name ("mediapipe478", "insightface106", ...).
    """

    crop_512: np.ndarray
    input_256: np.ndarray
    M_o2c: np.ndarray
    M_c2o: np.ndarray
    landmarks: np.ndarray
    landmarks_crop: np.ndarray
    source_size: tuple[int, int]
    layout: str


class FaceCropper:
    """Crop the face of a portrait the way LivePortrait crops its source image.

    Args:
        backend: "mediapipe" (offline, Apache-2.0 models), "insightface" (buffalo_l files under
            ``insightface_root``; non-commercial research licence) or "auto" (insightface when
            its files are present, else mediapipe). See :mod:`.backends`.
        insightface_root: folder holding buffalo_l, e.g. ``ComfyUI/models/insightface``.
        dsize: crop side in pixels (512: the generator's output size).
        scale: crop side / landmark extent; larger values include more background.
        vx_ratio, vy_ratio: centre shift along the face's x / y axis as a fraction of the crop
            side (negative vy_ratio moves the crop up, adding forehead).
        rotate: True aligns the crop with the eye-to-lip axis; False keeps it axis-aligned.
        face_index: which face to use when several are found (0 = largest).
    """

    def __init__(
        self,
        backend: str = "mediapipe",
        insightface_root: str | None = None,
        dsize: int = 512,
        scale: float = 2.3,
        vx_ratio: float = 0.0,
        vy_ratio: float = -0.125,
        rotate: bool = True,
        face_index: int = 0,
    ) -> None:
        if dsize < NETWORK_SIZE:
            raise ValueError(f"dsize must be at least {NETWORK_SIZE}, got {dsize}.")
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}.")
        if face_index < 0:
            raise ValueError(f"face_index must be 0 (largest face) or more, got {face_index}.")
        self.backend_name = backend
        self.insightface_root = insightface_root
        self.dsize, self.scale = int(dsize), float(scale)
        self.vx_ratio, self.vy_ratio = float(vx_ratio), float(vy_ratio)
        self.rotate, self.face_index = bool(rotate), int(face_index)
        self._backend: LandmarkBackend | None = None

    @property
    def backend(self) -> LandmarkBackend:
        """The landmark backend, created on first use."""
        if self._backend is None:
            self._backend = make_backend(self.backend_name, self.insightface_root)
        return self._backend

    def with_options(self, **options) -> "FaceCropper":
        """A cropper with other crop options (scale, vx_ratio, vy_ratio, rotate, face_index, dsize)
        that shares this one's landmark backend (no second detector is created)."""
        unknown = set(options) - {"scale", "vx_ratio", "vy_ratio", "rotate", "face_index", "dsize"}
        if unknown:
            raise ValueError(f"unknown crop option(s) {sorted(unknown)}")
        current = {"dsize": self.dsize, "scale": self.scale, "vx_ratio": self.vx_ratio,
                   "vy_ratio": self.vy_ratio, "rotate": self.rotate, "face_index": self.face_index}
        other = FaceCropper(self.backend_name, self.insightface_root, **{**current, **options})
        other._backend = self._backend
        if self._backend is None:                              # create it once, here, for both
            other._backend = self._backend = self.backend
        return other

    def close(self) -> None:
        """Release the backend's native resources."""
        if self._backend is not None:
            self._backend.close()

    def _no_face_message(self, name: str, size: tuple[int, int]) -> str:
        other = "insightface" if self.backend.name == "mediapipe" else "mediapipe"
        return (
            f"no face found in {name} ({size[1]}x{size[0]} px, {self.backend.name} backend). "
            f"Try a larger, sharper, front-facing and well-lit face; pad the image if the face "
            f"touches its border; or use the {other} backend. Once a face is found, the crop "
            f"scale (now {self.scale}; larger keeps more surroundings) sets the framing and "
            f"face_index (now {self.face_index}) picks among several faces."
        )

    def crop_landmarks(self, image_rgb: np.ndarray, landmarks,
                       layout: str | None = None) -> CropInfo:
        """Crop an (H, W, 3) uint8 RGB image around given (N, 2) landmarks (no detection)."""
        pts = np.asarray(landmarks)
        layout = layout or layout_for(pts.shape[0])
        m_o2c, m_c2o = crop_matrices(pts, dsize=self.dsize, scale=self.scale,
                                     vx_ratio=self.vx_ratio, vy_ratio=self.vy_ratio,
                                     rotate=self.rotate, layout=layout)
        return self._warp(image_rgb, m_o2c, m_c2o, pts, layout)

    def _warp(self, image_rgb: np.ndarray, m_o2c: np.ndarray, m_c2o: np.ndarray,
              landmarks: np.ndarray, layout: str) -> CropInfo:
        """Apply a known crop transform to an image and package the result."""
        crop = cv2.warpAffine(image_rgb, m_o2c[:2], (self.dsize, self.dsize),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=0)                            # (dsize, dsize, 3)
        small = cv2.resize(crop, (NETWORK_SIZE, NETWORK_SIZE), interpolation=cv2.INTER_AREA)
        return CropInfo(
            crop_512=crop, input_256=small, M_o2c=m_o2c, M_c2o=m_c2o,
            landmarks=np.asarray(landmarks, dtype=np.float32),
            landmarks_crop=transform_points(landmarks, m_o2c).astype(np.float32),
            source_size=(int(image_rgb.shape[0]), int(image_rgb.shape[1])),
            layout=layout,
        )

    def _find(self, image_rgb: np.ndarray, name: str) -> CropInfo | None:
        faces = self.backend.detect(image_rgb)
        if not faces:
            return None
        if self.face_index >= len(faces):
            raise ValueError(
                f"face_index {self.face_index} requested but {len(faces)} face(s) found in "
                f"{name}; use face_index 0 to {len(faces) - 1} (0 = largest face)."
            )
        if len(faces) > 1:
            logger.info("%s: %d faces found, using face_index %d", name, len(faces),
                        self.face_index)
        face = faces[self.face_index]
        return self.crop_landmarks(image_rgb, face.landmarks, face.layout)

    def crop(self, image, name: str = "image") -> CropInfo:
        """Detect the face in one image and crop it.

        Args:
            image: one image in any form :func:`~.images.to_rgb_uint8` accepts (HxWx3 RGB, ...).
            name: how the image is called in error messages.

        Raises:
            ValueError: bad image, no face found, or ``face_index`` out of range (the message says
                how many faces were found).
        """
        rgb = to_rgb_uint8(image, name=name)
        info = self._find(rgb, name)
        if info is None:
            raise ValueError(self._no_face_message(name, rgb.shape[:2]))
        return info

    def crop_video(self, frames, on_missing: str = "skip",
                   name: str = "video") -> tuple[list[CropInfo], list[int]]:
        """Crop every frame of a (T, H, W, 3) batch (or a sequence of images).

        Args:
            frames: T frames, each accepted by :func:`~.images.to_rgb_uint8`.
            on_missing: what to do with frames without a face: "skip" drops them; "hold" reuses
                the previous frame's crop information (M_o2c, landmarks) and crops the current
                frame with it, or the next found one for leading frames; "error" raises.
            name: how the batch is called in error messages.

        Returns:
            (crops, kept): one CropInfo per kept frame and the indices of those frames in
            ``frames`` ("hold" keeps every index).

        Raises:
            ValueError: unknown ``on_missing``, a frame without a face with "error", or no face
                in any frame.
        """
        if on_missing not in ON_MISSING:
            raise ValueError(f"on_missing must be one of {ON_MISSING}, got {on_missing!r}.")
        rgb_frames = [to_rgb_uint8(frame, name=f"{name} frame {i}") for i, frame in
                      enumerate(frames)]
        if not rgb_frames:
            raise ValueError(f"{name} has no frames.")
        found: list[CropInfo | None] = []
        for i, rgb in enumerate(rgb_frames):
            info = self._find(rgb, f"{name} frame {i}")
            if info is None and on_missing == "error":
                raise ValueError(self._no_face_message(f"{name} frame {i}", rgb.shape[:2])
                                 + ' Or pass on_missing="skip" or "hold".')
            found.append(info)
        hits = [i for i, info in enumerate(found) if info is not None]
        if not hits:
            raise ValueError(self._no_face_message(f"any of the {len(found)} frames of {name}",
                                                   rgb_frames[0].shape[:2]))
        missing = len(found) - len(hits)
        if missing:
            logger.warning("%s: no face in %d of %d frames (%s)", name, missing, len(found),
                           on_missing)
        if on_missing == "skip":
            return [found[i] for i in hits], hits
        return self._hold(rgb_frames, found, hits), list(range(len(found)))

    def _hold(self, rgb_frames, found, hits) -> list[CropInfo]:
        """Fill frames without a face with the nearest earlier crop (later for leading frames)."""
        crops = []
        donor = found[hits[0]]
        for rgb, info in zip(rgb_frames, found):
            if info is not None:
                donor = info
                crops.append(info)
            else:
                crops.append(self._warp(rgb, donor.M_o2c, donor.M_c2o, donor.landmarks,
                                        donor.layout))
        return crops


def to_tensor(images) -> torch.Tensor:
    """Network input from one or more 256x256 crops.

    Args:
        images: a CropInfo, an (S, S, 3) uint8 array, or a list of either.

    Returns:
        float32 tensor (B, 3, S, S) with values in [0, 1] (uint8 / 255), on the CPU.
    """
    items = images if isinstance(images, (list, tuple)) else [images]
    if not items:
        raise ValueError("to_tensor needs at least one image.")
    arrays = [item.input_256 if isinstance(item, CropInfo) else np.asarray(item) for item in items]
    for i, arr in enumerate(arrays):
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise ValueError(f"to_tensor item {i}: expected an HxWx3 uint8 image, got shape "
                             f"{arr.shape} and dtype {arr.dtype} (pass CropInfo.input_256).")
    batch = torch.from_numpy(np.stack(arrays))                     # (B, S, S, 3) uint8
    return batch.permute(0, 3, 1, 2).float().div(255.0).clamp(0.0, 1.0)  # (B, 3, S, S)
