"""Save Motion, Load Motion and Motion Preview: the motion as a first-class, reusable object."""
from __future__ import annotations

import os

import torch
from comfy_api.v0_0_2 import io, ui

from ..playmate_core.pipeline import MOTION_SUFFIX, draw_motion_preview, load_motion_file, save_motion_file
from . import runtime
from .entrances import OUTPUT_TAG, resolve_saved_file, saved_files
from .types import Motion, schema

CATEGORY = "Playmate/motion"


class SaveMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateSaveMotion",
            display_name="Playmate Save Motion",
            category=CATEGORY,
            description=f"Saves a motion as a small {MOTION_SUFFIX} file in the output folder (70 numbers a frame), "
                        "to render it again later or on another portrait without sampling again. Playmate Load "
                        "Motion lists it as '<name> [output]' (refresh with R).",
            inputs=[
                Motion.Input("motion", tooltip="The motion to save."),
                io.String.Input("filename_prefix", default="playmate/motion",
                                tooltip="File name prefix inside ComfyUI's output folder."),
            ],
            outputs=[],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, motion, filename_prefix) -> io.NodeOutput:
        with runtime.named_errors("Playmate Save Motion"):
            path, _, subfolder = runtime.output_path(filename_prefix, MOTION_SUFFIX)
            save_motion_file(path, motion, staging_dir=runtime.staging_dir())
            entry = f"{subfolder + '/' if subfolder else ''}{os.path.basename(path)}{OUTPUT_TAG}"
            text = f"saved {len(motion)} frames at {motion.fps:g} fps; in Playmate Load Motion: {entry}"
            saved = ui.SavedResult(os.path.basename(path), subfolder, io.FolderType.output)
            return io.NodeOutput(ui={"text": [text], "playmate_motion": [saved]})


class LoadMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        files = saved_files(MOTION_SUFFIX)
        return schema(
            node_id="PlaymateLoadMotion",
            display_name="Playmate Load Motion",
            category=CATEGORY,
            description=f"Loads a {MOTION_SUFFIX} file written by Playmate Save Motion: from ComfyUI's output folder "
                        "(entries marked [output]) or its input folder.",
            inputs=[io.Combo.Input("file", options=files or ["(save a motion with Playmate Save Motion first)"],
                                   tooltip=f"A {MOTION_SUFFIX} file: '[output]' = in the output folder (where Save "
                                           f"Motion writes), otherwise in the input folder. Refresh (R) after saving.")],
            outputs=[Motion.Output(display_name="motion")],
        )

    @classmethod
    def execute(cls, file) -> io.NodeOutput:
        with runtime.named_errors("Playmate Load Motion"):
            return io.NodeOutput(load_motion_file(resolve_saved_file(file, MOTION_SUFFIX)))

    @classmethod
    def fingerprint_inputs(cls, file):
        try:
            path = resolve_saved_file(file, MOTION_SUFFIX)
        except ValueError:
            return f"refused:{file}"
        return f"{path}:{path.stat().st_mtime_ns if path.is_file() else 0}"

    @classmethod
    def validate_inputs(cls, file=None):
        try:
            resolve_saved_file(file, MOTION_SUFFIX)
        except ValueError as exc:
            return f"Playmate Load Motion: {exc} Save a motion with Playmate Save Motion first."
        return True


class MotionPreview(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateMotionPreview",
            display_name="Playmate Motion Preview",
            category=CATEGORY,
            description="Draws a motion's head pose (pitch, yaw, roll) and mouth opening over time as an image.",
            inputs=[
                Motion.Input("motion", tooltip="The motion to plot."),
                io.Int.Input("width", default=960, min=320, max=4096, step=4, tooltip="Image width in pixels."),
                io.Int.Input("height", default=540, min=240, max=4096, step=4, tooltip="Image height in pixels."),
            ],
            outputs=[io.Image.Output(display_name="image")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, motion, width, height) -> io.NodeOutput:
        with runtime.named_errors("Playmate Motion Preview"):
            image = torch.from_numpy(draw_motion_preview(motion, width=width, height=height))[None].float() / 255
            return io.NodeOutput(image, ui=ui.PreviewImage(image, cls=cls))
