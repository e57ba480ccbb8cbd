"""Extract Motion, Audio To Motion and Pose Override."""
from __future__ import annotations

import torch
from comfy_api.v0_0_2 import io

from ..playmate_core.motion.backend import MotionRequest
from ..playmate_core.pipeline import DRIVING_MODES, POSE_SOURCES, extract_source_and_motion, pose_override
from ..playmate_core.timebase import MAX_FPS, MIN_FPS
from . import runtime
from .types import ALIASES, Emotion, Models, Motion, MotionOptions, Source, schema

CATEGORY = "Playmate"


class ExtractMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateExtractMotion",
            display_name="Playmate Extract Motion",
            category=CATEGORY,
            description="Finds and crops the face, then reads its appearance, expression and head pose with "
                        "LivePortrait. One image: the source portrait and its one-frame motion. A batch of video "
                        "frames: the source from the first frame with a face, plus the video's motion frame by "
                        "frame (to drive the head). The crops output shows the crop to check crop_scale and shifts.",
            inputs=[
                Models.Input("models", tooltip="From Playmate Load Models."),
                io.Image.Input("image", tooltip="A portrait (one image) or a driving video's frames (a batch)."),
                io.Float.Input("crop_scale", default=2.3, min=1.0, max=4.0, step=0.05,
                               tooltip="Crop side / face size; larger keeps more hair, shoulders and background."),
                io.Float.Input("crop_vx", default=0.0, min=-0.5, max=0.5, step=0.01,
                               tooltip="Horizontal shift of the crop centre, as a fraction of the crop side."),
                io.Float.Input("crop_vy", default=-0.125, min=-0.5, max=0.5, step=0.005,
                               tooltip="Vertical shift of the crop centre (negative = up, more forehead)."),
                io.Int.Input("face_index", default=0, min=0, max=31,
                             tooltip="Which face when several are found (0 = the largest)."),
                io.Combo.Input("on_missing_face", options=["skip", "hold", "error"], default="hold",
                               tooltip="Video frames without a face: skip them, hold the previous crop, or stop "
                                       "with an error."),
                io.Float.Input("fps", default=25.0, min=MIN_FPS, max=MAX_FPS, step=0.001,
                               tooltip="Frame rate of the driving frames (from Load Video / Get Video Components)."),
            ],
            outputs=[Source.Output(display_name="source"), Motion.Output(display_name="motion"),
                     io.Image.Output(display_name="crops")],
        )

    @classmethod
    def execute(cls, models, image, crop_scale, crop_vx, crop_vy, face_index, on_missing_face, fps) -> io.NodeOutput:
        with runtime.named_errors("Playmate Extract Motion"):
            models = models.ready()
            cropper = models.cropper.with_options(scale=crop_scale, vx_ratio=crop_vx, vy_ratio=crop_vy,
                                                  face_index=face_index)
            frames = runtime.batch_image(image, "the image given to Playmate Extract Motion")
            source, motion = extract_source_and_motion(models.engine, cropper, frames, fps,
                                                       on_missing=on_missing_face, callback=runtime.progress(),
                                                       name="the image given to Playmate Extract Motion")
            crop_img = torch.from_numpy(source.crop.input_256)[None].float() / 255              # 1,256,256,3
            return io.NodeOutput(source, motion, crop_img)

    @classmethod
    def validate_inputs(cls, on_missing_face=None):
        return runtime.check_combos(cls, on_missing_face=on_missing_face)


class AudioToMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateAudioToMotion",
            display_name="Playmate Audio To Motion",
            category=CATEGORY,
            description="Speech -> lip, face and head motion for the portrait, exactly ceil(duration x fps) frames, "
                        "window by window for long audio, from the motion model chosen in Playmate Load Models. "
                        "Optional: an emotion (Playmate Emotion, for a Playmate model with its emotion module) and "
                        "the model's own settings (Playmate Sampling Options, Playmate JoyVASA Options); left "
                        "unconnected, the defaults apply.",
            search_aliases=ALIASES,
            inputs=[
                Models.Input("models", tooltip="From Playmate Load Models (with a motion model)."),
                Source.Input("source", tooltip="The source portrait from Playmate Extract Motion."),
                io.Audio.Input("audio", tooltip="Speech (any sample rate, mono or stereo), e.g. from Load Audio."),
                io.Int.Input("steps", default=25, min=1, max=200,
                             tooltip="Sampling steps per window: more is slower and can be smoother."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, control_after_generate=True,
                             tooltip="Noise seed; the same seed gives the same motion."),
                io.Float.Input("fps", default=25.0, min=MIN_FPS, max=MAX_FPS, step=0.001,
                               tooltip="Output frame rate; the frame count is ceil(audio seconds x fps)."),
                io.Float.Input("pose_scale", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="Head-motion amount: 0 = still head at the source pose, 1 = natural."),
                Emotion.Input("emotion", optional=True,
                              tooltip="From Playmate Emotion; leave empty for no emotion condition."),
                MotionOptions.Input("options", optional=True,
                                    tooltip="From Playmate Sampling Options or Playmate JoyVASA Options (they "
                                            "chain); leave empty for the defaults."),
            ],
            outputs=[Motion.Output(display_name="motion")],
        )

    @classmethod
    def execute(cls, models, source, audio, steps, seed, fps, pose_scale, emotion=None, options=None) -> io.NodeOutput:
        with runtime.named_errors("Playmate Audio To Motion"):
            request = MotionRequest.from_widgets(**(options or {}), **(emotion or {}), steps=steps, seed=seed,
                                                 fps=fps, pose_scale=pose_scale)
            audio = runtime.checked_audio(audio)
            backend = models.ready().motion_backend()
            motion = backend.generate(audio["waveform"][:1], audio["sample_rate"], source.motion, request,
                                      callback=runtime.progress())
            return io.NodeOutput(motion)


class PoseOverride(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymatePoseOverride",
            display_name="Playmate Pose Override",
            category=CATEGORY,
            description="Replaces or mixes the head pose of a motion: from a driving video's motion, a still image, "
                        "the source (still head) or numeric offsets, with per-axis strength; lip-only and "
                        "expression-only switches.",
            inputs=[
                Motion.Input("motion", tooltip="The motion to edit (e.g. from Audio To Motion)."),
                Source.Input("source", tooltip="The source portrait the motion will be rendered on."),
                io.Combo.Input("pose_source", options=list(POSE_SOURCES), default="source",
                               tooltip="Where the new head pose comes from: generated (keep), driving motion, image "
                                       "(a still's pose) or source (still head)."),
                io.Float.Input("strength_pitch", default=1.0, min=0.0, max=1.0, step=0.05,
                               tooltip="0 keeps the motion's pitch (nod), 1 takes the pose source's."),
                io.Float.Input("strength_yaw", default=1.0, min=0.0, max=1.0, step=0.05,
                               tooltip="0 keeps the motion's yaw (turn), 1 takes the pose source's."),
                io.Float.Input("strength_roll", default=1.0, min=0.0, max=1.0, step=0.05,
                               tooltip="0 keeps the motion's roll (tilt), 1 takes the pose source's."),
                io.Float.Input("strength_position", default=1.0, min=0.0, max=1.0, step=0.05,
                               tooltip="0 keeps the motion's translation and scale, 1 takes the pose source's."),
                io.Float.Input("pitch_offset", default=0.0, min=-45.0, max=45.0, step=0.5,
                               tooltip="Degrees added to pitch after mixing (positive = look down)."),
                io.Float.Input("yaw_offset", default=0.0, min=-45.0, max=45.0, step=0.5,
                               tooltip="Degrees added to yaw after mixing."),
                io.Float.Input("roll_offset", default=0.0, min=-45.0, max=45.0, step=0.5,
                               tooltip="Degrees added to roll after mixing."),
                io.Boolean.Input("lip_only", default=False,
                                 tooltip="Keep only the motion's lips; the rest of the face follows the pose source "
                                         "(driving video) or stays as the source (video dubbing)."),
                io.Boolean.Input("expression_only", default=False,
                                 tooltip="Drop the motion's head pose entirely: the pose source sets it (a still "
                                         "head with 'generated' or 'source')."),
                io.Combo.Input("driving_mode", options=list(DRIVING_MODES), default="relative",
                               tooltip="relative: the driving video's change from its first frame is applied to the "
                                       "source (LivePortrait's default); absolute: its pose is copied."),
                io.Combo.Input("length_policy", options=["loop", "pingpong", "hold", "stretch"], default="loop",
                               tooltip="A driving clip shorter or longer than the motion: loop, ping-pong, hold the "
                                       "last frame, or stretch it in time."),
                Motion.Input("driving_motion", optional=True,
                             tooltip="Driving video motion (Extract Motion on the video frames)."),
                Source.Input("pose_image", optional=True,
                             tooltip="A still image's source (Extract Motion on it) for pose_source 'image'."),
            ],
            outputs=[Motion.Output(display_name="motion")],
        )

    @classmethod
    def execute(cls, motion, source, pose_source, strength_pitch, strength_yaw, strength_roll, strength_position,
                pitch_offset, yaw_offset, roll_offset, lip_only, expression_only, driving_mode, length_policy,
                driving_motion=None, pose_image=None) -> io.NodeOutput:
        with runtime.named_errors("Playmate Pose Override"):
            out = pose_override(motion, source, pose_source, driving=driving_motion, pose_image=pose_image,
                                strength=(strength_pitch, strength_yaw, strength_roll, strength_position),
                                offsets=(pitch_offset, yaw_offset, roll_offset), lip_only=lip_only,
                                expression_only=expression_only, driving_mode=driving_mode, length_policy=length_policy)
            return io.NodeOutput(out)

    @classmethod
    def validate_inputs(cls, pose_source=None, driving_mode=None, length_policy=None):
        return runtime.check_combos(cls, pose_source=pose_source, driving_mode=driving_mode, length_policy=length_policy)
