"""Playmate Load Models and Playmate Download Models."""
from __future__ import annotations

from comfy_api.v0_0_2 import io, ui

from ..playmate_core import model_files
from ..playmate_core.model_choice import AUTO
from . import model_setup, runtime
from .types import Models

CATEGORY = "Playmate/loaders"


class LoadPlaymateModels(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PlaymateLoadModels",
            display_name="Playmate Load Models",
            category=CATEGORY,
            description="Loads the LivePortrait face engine (models/liveportrait), a motion model (models/playmate), "
                        "its audio encoder (models/audio_encoders) and the face cropper, once (reused across "
                        "prompts). 'auto' picks, from what is installed: a trained Playmate checkpoint, else the "
                        "public JoyVASA model, else demo files. With download 'if missing' and nothing usable "
                        "installed it first downloads the public JoyVASA and LivePortrait files (each licence in "
                        "the log). The choice, and any demo or untrained weights, are shown on the node and in "
                        "the 'info' output.",
            inputs=[
                io.Combo.Input("liveportrait", options=runtime.liveportrait_choices(), default="human",
                               tooltip="LivePortrait weights: 'human' = the five files in models/liveportrait "
                                       "(safetensors or the official .pth layout; downloaded when missing and "
                                       "download is 'if missing'), 'animal' = models/liveportrait/animal; other "
                                       "entries are sub-folders holding a set. Licence: MIT."),
                io.Combo.Input("motion_model", options=model_setup.motion_options(), default=AUTO,
                               tooltip="auto: a trained Playmate checkpoint if installed, else the public JoyVASA "
                                       "model (motion_generator_hubert_chinese.pt), else the demo files. Or a file "
                                       "in models/playmate; 'none' for graphs that only re-target a video."),
                io.Combo.Input("emotion_model", options=model_setup.emotion_options(), default=AUTO,
                               tooltip="auto: the emotion module trained on the chosen Playmate model, if installed; "
                                       "else none. JoyVASA has no emotion control."),
                io.Combo.Input("audio_encoder", options=model_setup.encoder_options(), default=AUTO,
                               tooltip="auto: the encoder the motion model needs (wav2vec2-base-960h, Apache-2.0, "
                                       "for Playmate; chinese-hubert-base's config, MIT, for JoyVASA). Or a folder "
                                       "in models/audio_encoders."),
                io.Combo.Input("download", options=list(model_setup.DOWNLOAD_CHOICES),
                               default=model_setup.DOWNLOAD_DEFAULT, optional=True,
                               tooltip="if missing: when nothing usable is installed, download the public files "
                                       "(JoyVASA + its encoder config, LivePortrait; 935 MB, MIT) from "
                                       "huggingface.co or $HF_ENDPOINT into models/. Never downloads when usable "
                                       "files are installed. never: fail with the list of files and URLs."),
                io.Combo.Input("cropper", options=["mediapipe", "insightface"], default="mediapipe",
                               tooltip="Face detector: mediapipe (Apache-2.0, ships with the wheel, commercial use "
                                       "OK) or insightface buffalo_l (models/insightface/models/buffalo_l; "
                                       "non-commercial research licence)."),
                io.Combo.Input("device", options=["auto", "cpu"], default="auto",
                               tooltip="auto = ComfyUI's compute device (GPU if present); cpu forces the CPU."),
                io.Combo.Input("precision", options=["auto", "fp32", "fp16", "bf16"], default="auto",
                               tooltip="auto = fp16 renderer + bf16 motion model on a GPU; on the CPU an fp32 "
                                       "renderer and a bf16 motion model where the CPU has native bf16 (Intel AMX), "
                                       "else fp32. fp32 forces full precision everywhere. fp16/bf16 need a GPU."),
            ],
            outputs=[Models.Output(display_name="models"),
                     io.String.Output(display_name="info", tooltip="What was loaded and why (the auto choice, "
                                                                   "downloads, demo or untrained weights).")],
        )

    @classmethod
    def execute(cls, liveportrait, motion_model, emotion_model, audio_encoder, cropper, device, precision,
                download=None) -> io.NodeOutput:
        with runtime.named_errors("Playmate Load Models"):
            models = runtime.load_models(liveportrait, motion_model, emotion_model, audio_encoder, cropper, device,
                                         precision, download)
            return io.NodeOutput(models, models.info["text"], ui=ui.PreviewText(models.info["text"]))

    @classmethod
    def validate_inputs(cls, liveportrait=None, motion_model=None, emotion_model=None, audio_encoder=None,
                        download=None, cropper=None, device=None, precision=None):
        return runtime.validate_model_choices(liveportrait, motion_model, emotion_model, audio_encoder, cropper,
                                              device, precision, download)


class DownloadPlaymateModels(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PlaymateDownloadModels",
            display_name="Playmate Download Models",
            category=CATEGORY,
            description="Download one bundle of public model files from the Hugging Face hub (or $HF_ENDPOINT) "
                        "into ComfyUI's model folders, with each file's licence. Offline mode (the default) "
                        "downloads nothing: it checks the files and fails with the list of expected paths. Load "
                        "Playmate Models downloads what it needs by itself (download 'if missing'). Playmate "
                        "motion weights are not published anywhere; train them with trainer/.",
            inputs=[
                io.Combo.Input("bundle", options=sorted(model_files.BUNDLES), default="liveportrait",
                               tooltip="liveportrait: Kijai's safetensors of LivePortrait (MIT) -> models/liveportrait; "
                                       "liveportrait-animal: official animal .pth (MIT); wav2vec2-base-960h: the audio "
                                       "encoder (Apache-2.0) -> models/audio_encoders; joyvasa: JoyVASA's trained "
                                       "motion generator + template (MIT) -> models/playmate and chinese-hubert-base's "
                                       "config (MIT) -> models/audio_encoders; chinese-hubert-base: that config "
                                       "alone."),
                io.Boolean.Input("offline", default=True,
                                 tooltip="On: never touch the network; report present/missing files. Off: download "
                                         "the missing files from huggingface.co (or $HF_ENDPOINT)."),
            ],
            outputs=[io.String.Output(display_name="report")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, bundle, offline) -> io.NodeOutput:
        with runtime.named_errors("Playmate Download Models"):
            folders = {key: str(runtime.folder_roots(key)[0]) for key in runtime.FOLDERS}
            model_files.fetch_bundle(bundle, folders, offline=offline, progress=runtime.progress(),
                                     check=runtime.check_interrupted)
            report = model_files.describe_bundle(bundle, folders)
            return io.NodeOutput(report, ui=ui.PreviewText(report))

    @classmethod
    def validate_inputs(cls, bundle=None):
        return runtime.check_combos(cls, bundle=bundle)
