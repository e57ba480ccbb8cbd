"""Render Frames (IMAGE batch in memory) and Render Video (streamed to an mp4 file)."""
from __future__ import annotations

import os

import torch
from comfy_api.v0_0_2 import InputImpl, io, ui

from ..playmate_core.pipeline import output_size, render_frames, render_mask, write_video
from . import runtime
from .types import ALIASES, Models, Motion, Source, schema

CATEGORY = "Playmate"
OUTPUTS = ["pasted back", "crop"]
_OUTPUT_TIP = ("pasted back: the face blended into the full source image at its resolution (even sizes); "
               "crop: the 512x512 face crop.")


def _common_inputs() -> list:
    return [Models.Input("models", tooltip="From Playmate Load Models."),
            Source.Input("source", tooltip="The source portrait from Playmate Extract Motion."),
            Motion.Input("motion", tooltip="Motion from Audio To Motion, Pose Override, Load Motion or a video."),
            io.Combo.Input("output", options=OUTPUTS, default="pasted back", tooltip=_OUTPUT_TIP)]


def _check_memory(frames: int, height: int, width: int) -> None:
    """Fail before rendering when the IMAGE batch cannot fit in RAM (float32, 12 bytes a pixel)."""
    need = frames * height * width * 3 * 4
    free = runtime.available_ram()
    if free is not None and need > 0.8 * free:
        raise MemoryError(f"Playmate Render Frames would hold {frames} frames of {width}x{height} in RAM "
                          f"({need / 2**30:.1f} GiB; {free / 2**30:.1f} GiB available). Use Playmate Render Video, "
                          f"which streams frames into an mp4 file, or output 'crop' (512x512), or shorter audio.")


class RenderFrames(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateRenderFrames",
            display_name="Playmate Render Frames",
            category=CATEGORY,
            description="Draws the motion on the source portrait with LivePortrait, frame by frame, and blends the "
                        "face back into the photo; outputs IMAGE frames, the blend MASK, the audio passed through "
                        "and the fps (for Create Video). Holds every frame in memory: for long clips use Playmate "
                        "Render Video.",
            search_aliases=ALIASES,
            inputs=[
                *_common_inputs(),
                io.Audio.Input("audio", optional=True, tooltip="Passed through unchanged to the audio output."),
            ],
            outputs=[io.Image.Output(display_name="images"), io.Mask.Output(display_name="mask"),
                     io.Audio.Output(display_name="audio"), io.Float.Output(display_name="fps")],
        )

    @classmethod
    def execute(cls, models, source, motion, output, audio=None) -> io.NodeOutput:
        with runtime.named_errors("Playmate Render Frames"):
            paste = output == "pasted back"
            audio = runtime.checked_audio(audio)                  # passed on scaled: no encoder downstream stalls
            height, width = output_size(source, paste)
            _check_memory(len(motion), height, width)
            models = models.ready()
            images = torch.empty(len(motion), height, width, 3, dtype=torch.float32)        # N,H,W,3
            for i, frame in enumerate(render_frames(models.engine, source, motion, paste_back=paste,
                                                    callback=runtime.progress())):
                images[i] = torch.from_numpy(frame).float().div_(255)
            mask = torch.from_numpy(render_mask(source, paste))[None].float()               # 1,H,W
            return io.NodeOutput(images, mask, audio, float(motion.fps))

    @classmethod
    def validate_inputs(cls, output=None):
        return runtime.check_combos(cls, output=output)


class RenderVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateRenderVideo",
            display_name="Playmate Render Video",
            category=CATEGORY,
            description="Renders straight into an H.264 + AAC mp4 in the output folder, one frame at a time, so memory "
                        "does not grow with the clip length (long audio). Returns a file-backed VIDEO.",
            search_aliases=ALIASES,
            inputs=[
                *_common_inputs(),
                io.String.Input("filename_prefix", default="playmate/video",
                                tooltip="File name prefix inside ComfyUI's output folder."),
                io.Int.Input("crf", default=19, min=0, max=51,
                             tooltip="H.264 quality: lower = better and larger (18-23 is typical)."),
                io.Audio.Input("audio", optional=True, tooltip="Speech to mux into the mp4 (the whole clip, untouched)."),
            ],
            outputs=[io.Video.Output(display_name="video")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, models, source, motion, output, filename_prefix, crf, audio=None) -> io.NodeOutput:
        with runtime.named_errors("Playmate Render Video"):
            paste = output == "pasted back"
            audio = runtime.checked_audio(audio)
            height, width = output_size(source, paste)
            path, filename, subfolder = runtime.output_path(filename_prefix, ".mp4", width, height)
            models = models.ready()
            track = None if audio is None else (audio["waveform"][0], audio["sample_rate"])
            frames = render_frames(models.engine, source, motion, paste_back=paste, callback=runtime.progress())
            write_video(path, frames, motion.fps, audio=track, crf=crf, interrupt=runtime.check_interrupted,
                        staging_dir=runtime.staging_dir())
            saved = ui.SavedResult(os.path.basename(path), subfolder, io.FolderType.output)
            return io.NodeOutput(InputImpl.VideoFromFile(path), ui=ui.PreviewVideo([saved]))

    @classmethod
    def validate_inputs(cls, output=None):
        return runtime.check_combos(cls, output=output)
