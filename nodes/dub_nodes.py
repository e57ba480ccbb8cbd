"""Video dubbing: Video Face Source (the source portrait Audio To Motion needs) and Dub Video (file-backed)."""
from __future__ import annotations

import os

import torch
from comfy_api.v0_0_2 import InputImpl, io, ui

from ..playmate_core.pipeline.dub import DubOptions, dub_video, video_face_source
from ..playmate_core.pipeline.dub_timing import DUB_POLICIES
from ..playmate_core.timebase import MAX_FPS
from . import runtime
from .types import Models, Motion, Source, schema

CATEGORY = "Playmate/video"
_VIDEO_TIP = "The video of the person to dub, e.g. from Load Video (read frame by frame from its file)."
_FACE_TIP = ("Which face when several are visible (0 = the largest, at the first frame that has that many); the "
             "same person is then followed through the clip. Use the same value in both dubbing nodes.")
_POLICY_TIP = ("When the audio is longer than the video: trim (error: the video must be long enough), loop, "
               "pingpong (forward then backward), hold (the last frame), stretch (the video slowed or sped up to "
               "the audio's length). A longer video is cut at the audio's end (stretch: sped up).")


class VideoFaceSource(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateVideoFaceSource",
            display_name="Playmate Video Face Source",
            category=CATEGORY,
            description="The source portrait for dubbing a video: the first frame where the chosen face appears, "
                        "cropped and read by LivePortrait (like Extract Motion on a still). Connect it to Audio To "
                        "Motion; only the frames up to that face are read.",
            inputs=[
                Models.Input("models", tooltip="From Playmate Load Models."),
                io.Video.Input("video", tooltip=_VIDEO_TIP),
                io.Int.Input("face_index", default=0, min=0, max=31, tooltip=_FACE_TIP),
            ],
            outputs=[Source.Output(display_name="source"), io.Image.Output(display_name="crop")],
        )

    @classmethod
    def execute(cls, models, video, face_index) -> io.NodeOutput:
        with runtime.named_errors("Playmate Video Face Source"):
            models = models.ready()
            cropper = models.cropper.with_options(face_index=face_index)
            source = video_face_source(models.engine, cropper, video.get_stream_source(), name="the video")
            crop_img = torch.from_numpy(source.crop.input_256)[None].float() / 255              # 1,256,256,3
            return io.NodeOutput(source, crop_img)


class DubVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateDubVideo",
            display_name="Playmate Dub Video",
            category=CATEGORY,
            description="Keeps a person's video and replaces what their mouth says: every frame is rendered from its "
                        "own appearance and motion with the lips (and, by a strength, the expression) of the motion "
                        "generated from the new audio, then pasted back at full resolution; head pose, eyes and "
                        "identity stay the frame's own, and frames without the face pass through unchanged. Streams "
                        "decode -> render -> encode into an H.264 + AAC mp4 with the whole audio (memory does not grow "
                        "with length). Exactly ceil(audio seconds x fps) frames.",
            search_aliases=["lip sync", "video dubbing", "talking head", "avatar"],
            inputs=[
                Models.Input("models", tooltip="From Playmate Load Models."),
                io.Video.Input("video", tooltip=_VIDEO_TIP),
                Motion.Input("motion", tooltip="Motion from Audio To Motion, made from the SAME audio with the source "
                                               "from Playmate Video Face Source."),
                io.Audio.Input("audio", tooltip="The new speech: sets the length and is muxed into the mp4 untouched."),
                io.Combo.Input("policy", options=list(DUB_POLICIES), default="pingpong", tooltip=_POLICY_TIP),
                io.Float.Input("lip_strength", default=1.0, min=0.0, max=1.0, step=0.05,
                               tooltip="1 = the generated lips; 0 = the video's own lips (no dub)."),
                io.Float.Input("expression_strength", default=0.0, min=0.0, max=1.0, step=0.05,
                               tooltip="How much of the generated expression (brows, cheeks; never the eyes) replaces "
                                       "the video's own: 0 = keep the video's face, 1 = the generated one."),
                io.Int.Input("face_index", default=0, min=0, max=31, tooltip=_FACE_TIP),
                io.Float.Input("crop_scale", default=2.3, min=1.0, max=4.0, step=0.05,
                               tooltip="Crop side / face size: the rendered and pasted area around the face."),
                io.Float.Input("crop_vx", default=0.0, min=-0.5, max=0.5, step=0.01,
                               tooltip="Horizontal shift of the crop centre, as a fraction of the crop side."),
                io.Float.Input("crop_vy", default=-0.125, min=-0.5, max=0.5, step=0.005,
                               tooltip="Vertical shift of the crop centre (negative = up, more forehead)."),
                io.Float.Input("fps", default=0.0, min=0.0, max=MAX_FPS, step=0.001,
                               tooltip="Output frame rate; 0 = the video's own. Use the fps of Audio To Motion for "
                                       "the motion's own frames (another rate is resampled)."),
                io.String.Input("filename_prefix", default="playmate/dub",
                                tooltip="File name prefix inside ComfyUI's output folder."),
                io.Int.Input("crf", default=19, min=0, max=51,
                             tooltip="H.264 quality: lower = better and larger (18-23 is typical; 0 = lossless)."),
            ],
            outputs=[io.Video.Output(display_name="video")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, models, video, motion, audio, policy, lip_strength, expression_strength, face_index, crop_scale,
                crop_vx, crop_vy, fps, filename_prefix, crf) -> io.NodeOutput:
        with runtime.named_errors("Playmate Dub Video"):
            audio = runtime.checked_audio(audio)
            width, height = video.get_dimensions()
            path, _, subfolder = runtime.output_path(filename_prefix, ".mp4", width, height)
            models = models.ready()
            cropper = models.cropper.with_options(scale=crop_scale, vx_ratio=crop_vx, vy_ratio=crop_vy,
                                                  face_index=face_index)
            options = DubOptions(policy=policy, lip_strength=lip_strength, expression_strength=expression_strength,
                                 fps=fps or None)
            dub_video(path, models.engine, cropper, video.get_stream_source(), motion,
                      (audio["waveform"][0], audio["sample_rate"]), options, crf=crf, callback=runtime.progress(),
                      interrupt=runtime.check_interrupted, staging_dir=runtime.staging_dir())
            saved = ui.SavedResult(os.path.basename(path), subfolder, io.FolderType.output)
            return io.NodeOutput(InputImpl.VideoFromFile(path), ui=ui.PreviewVideo([saved]))

    @classmethod
    def validate_inputs(cls, policy=None):
        return runtime.check_combos(cls, policy=policy)
