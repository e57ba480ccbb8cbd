"""Playmate's ComfyUI nodes (V3 schema, comfy_api v0.0.2). Thin: convert ComfyUI types, call the core.

Imported only inside ComfyUI (they need comfy_api); playmate_core never imports from here.
"""
from comfy_api.v0_0_2 import ComfyExtension, io

from . import runtime
from .dub_nodes import DubVideo, VideoFaceSource
from .edit_nodes import BlinksAndSilence, ExpressionEdit
from .loaders import DownloadPlaymateModels, LoadPlaymateModels
from .motion_io import LoadMotion, MotionPreview, SaveMotion
from .motion_nodes import AudioToMotion, ExtractMotion, PoseOverride
from .motion_options import BACKEND_OPTION_NODES, EmotionOptions, SamplingOptions
from .render_nodes import RenderFrames, RenderVideo

NODES = [LoadPlaymateModels, DownloadPlaymateModels, ExtractMotion, AudioToMotion, PoseOverride, RenderFrames,
         RenderVideo, SaveMotion, LoadMotion, MotionPreview]
NODES += [BlinksAndSilence, ExpressionEdit]
NODES += [VideoFaceSource, DubVideo]
NODES += [EmotionOptions, SamplingOptions, *BACKEND_OPTION_NODES]


class PlaymateExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES


async def comfy_entrypoint() -> PlaymateExtension:
    runtime.register_folders()
    return PlaymateExtension()
