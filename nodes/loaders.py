"""Load Playmate Models and Download Playmate Models."""
from __future__ import annotations

from comfy_api.v0_0_2 import io, ui

from ..playmate_core import model_files
from . import runtime
from .types import Models

CATEGORY = "Playmate/loaders"


class LoadPlaymateModels(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        motion = runtime.motion_choices()
        return io.Schema(
            node_id="PlaymateLoadModels",
            display_name="Load Playmate Models",
            category=CATEGORY,
            description="Loads the LivePortrait face engine (models/liveportrait), the Playmate motion model "
                        "(models/playmate), the audio encoder (models/audio_encoders or models/playmate) and the face "
                        "cropper. Models load once and are reused across prompts; ComfyUI's memory manager can "
                        "offload them. Missing files fail with the paths they are expected at (see Download Playmate "
                        "Models). No Playmate weights are published: a checkpoint marked untrained makes noise.",
            inputs=[
                io.Combo.Input("liveportrait", options=runtime.liveportrait_choices(), default="human",
                               tooltip="LivePortrait weights: 'human' = the five files in models/liveportrait "
                                       "(safetensors or the official .pth layout), 'animal' = models/liveportrait/animal; "
                                       "other entries are sub-folders holding a set. Licence: MIT."),
                io.Combo.Input("motion_model", options=motion, default=motion[0],
                               tooltip="Playmate stage-1 motion checkpoint (.safetensors in models/playmate), trained "
                                       "with this pack's trainer/. 'none' for graphs that only re-target video."),
                io.Combo.Input("emotion_model", options=runtime.emotion_choices(), default=runtime.NONE,
                               tooltip="Optional stage-2 emotion checkpoint (models/playmate) trained on the chosen "
                                       "motion model; needed for emotion control."),
                io.Combo.Input("audio_encoder", options=runtime.encoder_choices(),
                               tooltip="Audio encoder folder (Hugging Face layout: config.json + model.safetensors), "
                                       "in models/audio_encoders or models/playmate; the one the motion model was "
                                       "trained with (wav2vec2-base-960h, Apache-2.0, by default)."),
                io.Combo.Input("cropper", options=["mediapipe", "insightface"], default="mediapipe",
                               tooltip="Face detector: mediapipe (Apache-2.0, ships with the wheel, commercial use "
                                       "OK) or insightface buffalo_l (models/insightface/models/buffalo_l; "
                                       "non-commercial research licence)."),
                io.Combo.Input("device", options=["auto", "cpu"], default="auto",
                               tooltip="auto = ComfyUI's compute device (GPU if present); cpu forces the CPU."),
                io.Combo.Input("precision", options=["auto", "fp32", "fp16", "bf16"], default="auto",
                               tooltip="auto = fp16 renderer + bf16 motion model on a GPU, fp32 on the CPU. fp16/bf16 "
                                       "need a GPU."),
            ],
            outputs=[Models.Output(display_name="models")],
        )

    @classmethod
    def execute(cls, liveportrait, motion_model, emotion_model, audio_encoder, cropper, device,
                precision) -> io.NodeOutput:
        with runtime.named_errors("Load Playmate Models"):
            models = runtime.load_models(liveportrait, motion_model, emotion_model, audio_encoder, cropper, device,
                                         precision)
            return io.NodeOutput(models)

    @classmethod
    def validate_inputs(cls, liveportrait=None, motion_model=None, emotion_model=None, audio_encoder=None,
                        cropper=None, device=None, precision=None):
        return runtime.validate_model_choices(liveportrait, motion_model, emotion_model, audio_encoder, cropper,
                                              device, precision)


class DownloadPlaymateModels(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PlaymateDownloadModels",
            display_name="Download Playmate Models",
            category=CATEGORY,
            description="Opt-in download of public model files from the Hugging Face hub into ComfyUI's model "
                        "folders, with each file's licence. Offline mode (the default) downloads nothing: it checks "
                        "the files and fails with the list of expected paths. Playmate motion weights are not "
                        "published anywhere; train them with trainer/.",
            inputs=[
                io.Combo.Input("bundle", options=sorted(model_files.BUNDLES), default="liveportrait",
                               tooltip="liveportrait: Kijai's safetensors of LivePortrait (MIT) -> models/liveportrait; "
                                       "liveportrait-animal: official animal .pth (MIT); wav2vec2-base-960h: the audio "
                                       "encoder (Apache-2.0) -> models/audio_encoders; joyvasa: JoyVASA's trained "
                                       "motion generator + template -> models/playmate and chinese-hubert-base's "
                                       "config -> models/audio_encoders (weights licence: see the model card)."),
                io.Boolean.Input("offline", default=True,
                                 tooltip="On: never touch the network; report present/missing files. Off: download "
                                         "the missing files from huggingface.co."),
            ],
            outputs=[io.String.Output(display_name="report")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, bundle, offline) -> io.NodeOutput:
        with runtime.named_errors("Download Playmate Models"):
            folders = {key: str(runtime.folder_roots(key)[0]) for key in runtime.FOLDERS}
            model_files.fetch_bundle(bundle, folders, offline=offline, progress=runtime.progress())
            report = model_files.describe_bundle(bundle, folders)
            return io.NodeOutput(report, ui=ui.PreviewText(report))

    @classmethod
    def validate_inputs(cls, bundle=None):
        return runtime.check_combos(cls, bundle=bundle)
