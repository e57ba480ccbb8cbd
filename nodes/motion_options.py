"""Options for Audio To Motion that apply to one model or one mode, as small optional nodes.

ComfyUI 0.3.75 has no dynamic inputs, so Audio To Motion keeps only what every motion model reads
(steps, seed, fps, pose_scale) and takes the rest from these nodes; unconnected, the defaults apply.

    Playmate Emotion           -> PLAYMATE_EMOTION          {emotion, intensity, cfg_emotion, emotion_track}
    Playmate Sampling Options  -> PLAYMATE_MOTION_OPTIONS   {cfg_audio, eta}           (Playmate models)
    Playmate <Backend> Options -> PLAYMATE_MOTION_OPTIONS   the backend's own declared options (e.g. JoyVASA)

Both kinds of value are plain dicts of MotionRequest field / option names (MotionRequest.from_widgets
reads them); options nodes chain through their own `options` input (the later node's values win).
"""
from __future__ import annotations

from comfy_api.v0_0_2 import io

from ..playmate_core.motion.backend import BackendOption, MotionRequest
from ..playmate_core.motion.interface import registered      # filled by importing the front door above
from ..playmate_core.motion.labels import EMOTION_LABELS
from . import runtime
from .types import Emotion, MotionOptions, schema

CATEGORY = "Playmate/options"
_CHAIN_TIP = "Another options node to combine with this one (this node's values win where both set one)."
_DEFAULTS = MotionRequest()


class EmotionOptions(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateEmotion",
            display_name="Playmate Emotion",
            category=CATEGORY,
            description="The emotion of the generated face, for Audio To Motion's emotion input. Needs a Playmate "
                        "motion model with its emotion module (emotion_model in Playmate Load Models); other models "
                        "stop with a message saying so. Emotion changes the expression only: the head moves exactly as "
                        "with 'none' for the same seed and audio, so emotions can be compared side by side.",
            search_aliases=["emotion", "facial expression", "mood"],
            inputs=[
                io.Combo.Input("emotion", options=["none", *EMOTION_LABELS], default="neutral",
                               tooltip="Emotion for the whole clip; 'none' = no emotion condition. A non-empty "
                                       "emotion_track overrides it."),
                io.Int.Input("intensity", default=0, min=0, max=3,
                             tooltip="How strong the emotion is: 1 mild, 2 medium, 3 strong; 0 = not specified."),
                io.Float.Input("strength", default=_DEFAULTS.cfg_emotion, min=0.0, max=10.0, step=0.05,
                               tooltip="How strongly the face follows the emotion: 0 ignores it, 1.5 is the "
                                       "tested default, higher exaggerates it."),
                io.String.Input("emotion_track", default="", multiline=True, optional=True,
                                tooltip="Optional emotions that change over time, one per line: 'start-end emotion "
                                        "[intensity]' in seconds, e.g. '0-2.5 happy 3' and '2.5-end sad'."),
            ],
            outputs=[Emotion.Output(display_name="emotion")],
        )

    @classmethod
    def execute(cls, emotion, intensity, strength, emotion_track="") -> io.NodeOutput:
        return io.NodeOutput({"emotion": emotion, "intensity": intensity, "cfg_emotion": strength,
                              "emotion_track": emotion_track or ""})

    @classmethod
    def validate_inputs(cls, emotion=None):
        return runtime.check_combos(cls, emotion=emotion)


class SamplingOptions(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            node_id="PlaymateSamplingOptions",
            display_name="Playmate Sampling Options",
            category=CATEGORY,
            description="Settings of the Playmate motion model's sampler, for Audio To Motion's options input "
                        "(unconnected: these defaults). Other motion models ignore them (the log says so).",
            inputs=[
                io.Float.Input("audio_guidance", default=_DEFAULTS.cfg_audio, min=0.0, max=10.0, step=0.05,
                               tooltip="How strongly the mouth and head follow the speech: 0 ignores the audio, "
                                       "1.5 is the tested default, higher exaggerates the motion."),
                io.Float.Input("randomness", default=_DEFAULTS.eta, min=0.0, max=1.0, step=0.05,
                               tooltip="1 = fresh noise at every step (livelier, the default); 0 = the same "
                                       "smooth result from a seed with less variation."),
                MotionOptions.Input("options", optional=True, tooltip=_CHAIN_TIP),
            ],
            outputs=[MotionOptions.Output(display_name="options")],
        )

    @classmethod
    def execute(cls, audio_guidance, randomness, options=None) -> io.NodeOutput:
        return io.NodeOutput({**(options or {}), "cfg_audio": audio_guidance, "eta": randomness})


def _option_input(spec: BackendOption):
    """A backend's own option (declared in the core) -> a widget."""
    if spec.kind == "bool":
        return io.Boolean.Input(spec.name, default=spec.default, tooltip=spec.tooltip)
    widget = io.Float if spec.kind == "float" else io.Int
    return widget.Input(spec.name, default=spec.default, min=spec.minimum, max=spec.maximum, step=spec.step,
                        tooltip=spec.tooltip)


def backend_options_node(backend_cls: type) -> type:
    """'Playmate <NAME> Options' for a backend that declares its own options (node_id Playmate<NAME>Options),
    so a new backend gets its node from its declarations alone."""
    specs = tuple(backend_cls.OPTIONS)
    title = f"Playmate {backend_cls.NAME} Options"

    def define_schema(cls) -> io.Schema:
        return schema(
            node_id=f"Playmate{backend_cls.NAME}Options",
            display_name=title,
            category=CATEGORY,
            description=f"Settings of the {backend_cls.NAME} motion model, for Audio To Motion's options input "
                        f"(unconnected: these defaults). Other motion models ignore them (the log says so).",
            inputs=[*(_option_input(s) for s in specs), MotionOptions.Input("options", optional=True,
                                                                            tooltip=_CHAIN_TIP)],
            outputs=[MotionOptions.Output(display_name="options")],
        )

    def execute(cls, options=None, **values) -> io.NodeOutput:
        return io.NodeOutput({**(options or {}), **{s.name: values[s.name] for s in specs}})

    return type(f"{backend_cls.NAME}Options", (io.ComfyNode,),
                {"define_schema": classmethod(define_schema), "execute": classmethod(execute),
                 "__doc__": f"{title}: {backend_cls.NAME}'s own Audio To Motion options."})


BACKEND_OPTION_NODES = [backend_options_node(b) for b in registered() if b.OPTIONS]
