"""Motion edits for fine control: Blinks & Silence and the Expression Edit (with a rendered preview)."""
from __future__ import annotations

import torch
from comfy_api.v0_0_2 import io, ui

from ..playmate_core.pipeline.blinks import MAX_RATE
from ..playmate_core.pipeline.expression_edit import MAX_STILL_S, PREVIEWS, edit_expression
from ..playmate_core.pipeline.idle import MIN_PAUSE_S, add_idle
from ..playmate_core.pipeline.keypoint_map import CONTROLS
from ..playmate_core.pipeline.silence import EASE_S
from ..playmate_core.timebase import MAX_FPS, MIN_FPS
from . import runtime
from .types import Models, Motion, Source, schema

CATEGORY = "Playmate/motion"
_KEYFRAMES_TIP = ("Keyframed controls, one per line: 'control: seconds:value, seconds:value, ...', linear in between "
                  "and held before the first / after the last key, e.g. 'smile: 0:0, 1.5:1, 3:0' or "
                  "'head_yaw: 0:-10, 4:10'. A control with a line must have its slider at 0.")


def _control_input(name: str):
    c = CONTROLS[name]
    pose = name.startswith("head_")
    return io.Float.Input(name, default=0.0, min=c.low, max=c.high, step=0.5 if pose else 0.01,
                          display_mode=io.NumberDisplay.slider, tooltip=c.meaning[0].upper() + c.meaning[1:] + ".")


class BlinksAndSilence(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateBlinksSilence",
            display_name="Playmate Blinks & Silence",
            category=CATEGORY,
            description="Adds natural eye blinks (seeded, on the eyelid keypoints only) and lets the mouth ease closed "
                        "in pauses found in the audio itself (on the lip keypoints only), for a motion from any "
                        "backend. Head pose is unchanged. Motion Preview shows the blink and silence tracks.",
            inputs=[
                Motion.Input("motion", tooltip="The motion to edit (Audio To Motion, Load Motion, Pose Override...)."),
                io.Audio.Input("audio", tooltip="The speech the motion was made for; pauses are detected in it."),
                io.Float.Input("blink_rate", default=15.0, min=0.0, max=MAX_RATE, step=1.0,
                               tooltip="Blinks per minute (0 = none; people blink about 10-20 times a minute)."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1,
                             tooltip="Seed of the blink timing; the same seed gives the same blinks."),
                io.Float.Input("silence_strength", default=1.0, min=0.0, max=1.0, step=0.05,
                               tooltip="How far the mouth closes in pauses: 0 = leave it alone, 1 = lips closed."),
                io.Float.Input("min_pause", default=MIN_PAUSE_S, min=0.05, max=10.0, step=0.05,
                               tooltip="Only pauses at least this long (seconds) close the mouth."),
                io.Float.Input("ease", default=EASE_S, min=0.0, max=1.0, step=0.01,
                               tooltip="Seconds the mouth takes to close after the last word and to open before "
                                       "the next."),
            ],
            outputs=[Motion.Output(display_name="motion")],
        )

    @classmethod
    def execute(cls, motion, audio, blink_rate, seed, silence_strength, min_pause, ease) -> io.NodeOutput:
        with runtime.named_errors("Playmate Blinks & Silence"):
            audio = runtime.checked_audio(audio)
            out = add_idle(motion, audio["waveform"][:1], audio["sample_rate"], blink_rate=blink_rate, seed=seed,
                           silence_strength=silence_strength, min_pause=min_pause, ease=ease)
            return io.NodeOutput(out)


class ExpressionEdit(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateExpressionEdit",
            display_name="Playmate Expression Edit",
            category=CATEGORY,
            description="Edits the expression with named controls (smile, brows, eye openness, winks, gaze, mouth "
                        "shapes aa/ee/oo) and head angles, each a slider or a keyframed curve, on a motion from any "
                        "backend or, without a motion, on the still portrait. Shows rendered frames on the node "
                        "(enable auto-queue and drag a slider for a live preview).",
            inputs=[
                Models.Input("models", tooltip="From Playmate Load Models (renders the preview)."),
                Source.Input("source", tooltip="The source portrait from Playmate Extract Motion."),
                *(_control_input(name) for name in CONTROLS),
                io.String.Input("keyframes", default="", multiline=True, tooltip=_KEYFRAMES_TIP),
                io.Combo.Input("preview", options=list(PREVIEWS), default=PREVIEWS[0],
                               tooltip="Which frames to render on the node (512 crops); 'none' skips rendering."),
                io.Float.Input("still_seconds", default=0.0, min=0.0, max=MAX_STILL_S, step=0.5,
                               tooltip="Without a motion: length of the still portrait's motion (0 = one frame); "
                                       "use a few seconds to play keyframed curves."),
                io.Float.Input("fps", default=25.0, min=MIN_FPS, max=MAX_FPS, step=0.001,
                               tooltip="Without a motion: frame rate of the still portrait's motion."),
                Motion.Input("motion", optional=True,
                             tooltip="A motion to edit; leave empty to edit the still portrait."),
            ],
            outputs=[Motion.Output(display_name="motion"), io.Image.Output(display_name="preview")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, models, source, keyframes, preview, still_seconds, fps, motion=None, **controls) -> io.NodeOutput:
        with runtime.named_errors("Playmate Expression Edit"):
            engine = models.ready().engine if preview != "none" else None
            out, frames = edit_expression(engine, source, motion, controls, keyframes, still_seconds, fps, preview,
                                          callback=runtime.progress())
            shown = frames if len(frames) else source.crop.crop_512[None]                   # k,512,512,3 uint8
            images = torch.from_numpy(shown).float() / 255
            return io.NodeOutput(out, images, ui=ui.PreviewImage(images, cls=cls))

    @classmethod
    def validate_inputs(cls, preview=None):
        return runtime.check_combos(cls, preview=preview)
