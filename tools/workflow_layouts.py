"""What each shipped workflow looks like in ComfyUI: its template name, its note, and its stages.

Read by tools/make_workflows.py, which turns workflows/api/<name>_api.json into the UI files. A layout is a list
of columns, left to right; a column is a list of (group title, [API node ids]) stacked top to bottom; NOTE is the
workflow's Note node. Template names are the file names of example_workflows/ (ComfyUI's Templates browser shows
the file name as the title and, with '-' and '_' turned into spaces, as the description), so they are plain words.
"""
from __future__ import annotations

from dataclasses import dataclass

NOTE = "note"

MODELS_AUTO = (
    "Models: Playmate Load Models picks them by itself ('auto'): a Playmate checkpoint you trained with this "
    "pack's trainer/, else the public JoyVASA model, else the tiny demo files. With download = 'if missing' "
    "(the default) it fetches what is missing from Hugging Face into ComfyUI/models/ on the first run: "
    "LivePortrait (MIT), JoyVASA + chinese-hubert-base, and wav2vec2 when a Playmate checkpoint needs it. "
    "Offline, set download = 'never' and put the files there by hand (README, 'Model files').")
HONEST = ("No trained Playmate checkpoint is published. The demo files (random weights) give noise, not a "
          "face: the node says so when they are used.")
UPLOAD_PHOTO = "Upload: a portrait photo (one face, looking at the camera) in 'Source portrait' and a speech " \
               "recording in 'Speech' (samples: face.png, speech.wav from the pack's workflows/assets)."


@dataclass(frozen=True)
class Layout:
    title: str                       # the template name (file name in example_workflows/)
    needs: str                       # one line for the README table
    does: str                        # first paragraph of the note
    columns: tuple
    upload: str = UPLOAD_PHOTO
    models: str = MODELS_AUTO

    def note(self) -> str:
        return "\n\n".join([self.title.upper(), self.does, self.upload, self.models, HONEST,
                            "Run: press Run (Queue). The face crop preview shows what the model sees; the video "
                            "appears in the last node and in ComfyUI/output/playmate/."])


def _std(face_motion: tuple, render: tuple, extra_left: tuple = ()) -> tuple:
    return (
        (("Start here", [NOTE]), ("Models", ["3"])) + extra_left,
        (("1. Portrait and speech", ["1", "2"]),),
        face_motion,
        render,
    )


LAYOUTS = {
    "audio_to_video": Layout(
        title="Talking head from a photo and speech",
        needs="a portrait photo, a speech file",
        does="Makes a talking head video: the portrait speaks the recording, lips in sync, with natural head "
             "motion. Face crop -> motion from the audio -> frames rendered and pasted back into the photo -> "
             "mp4 with the speech.",
        columns=_std((("2. Face crop and motion", ["4", "20", "5"]),),
                     (("3. Render and save the video", ["6", "7", "8"]),))),
    "joyvasa_audio_to_video": Layout(
        title="Talking head with JoyVASA public weights",
        needs="a portrait photo, a speech file; JoyVASA + LivePortrait files (downloaded on first run)",
        does="The same talking head with the JoyVASA motion model named explicitly: the path that gives a real "
             "talking head from public weights today. JoyVASA options tune its guidance and pose smoothing.",
        models=("Models: this workflow names JoyVASA's files (motion_generator_hubert_chinese.pt + "
                "motion_template.pkl in models/playmate, chinese-hubert-base in models/audio_encoders) and "
                "LivePortrait. With download = 'if missing' (the default) Playmate Load Models fetches them from "
                "Hugging Face on the first run; offline, put them there by hand (README, 'Model files')."),
        columns=_std((("2. Face crop and motion (JoyVASA)", ["4", "20", "23", "5"]),),
                     (("3. Render and save the video", ["6", "7", "8"]),))),
    "emotion_control": Layout(
        title="Talking head with an emotion",
        needs="a portrait photo, a speech file; a Playmate checkpoint with an emotion module",
        does="A talking head that speaks with an emotion (here happy, intensity 3). The Emotion node sets the "
             "emotion and how strongly it shows; the motion preview draws the head and expression curves.",
        columns=_std((("2. Face crop, emotion and motion", ["4", "20", "21", "5"]),),
                     (("3. Render and save the video", ["6", "7", "8"]), ("Motion curves", ["9"])))),
    "emotion_comparison": Layout(
        title="Emotion comparison happy vs sad",
        needs="a portrait photo, a speech file; a Playmate checkpoint with an emotion module",
        does="One recording spoken twice with the same seed, happy on the left and sad on the right, rendered "
             "side by side, so you see what the emotion changes and what stays the same.",
        columns=(
            (("Start here", [NOTE]), ("Models", ["3"])),
            (("1. Portrait and speech", ["1", "2"]), ("2. Face crop", ["4", "20"])),
            (("3. Happy: emotion, motion, frames", ["21", "5", "7", "12"]),),
            (("3. Sad: same seed", ["22", "6", "8", "13"]),),
            (("4. Side by side and save", ["9", "10", "11"]),),
        )),
    "driving_video_pose": Layout(
        title="Head pose from a driving video",
        needs="a portrait photo, a speech file, a driving video",
        does="The lips follow the speech while the head pose (turns, nods, tilts) is copied from a driving "
             "video of another face, relative to its first frame.",
        upload=UPLOAD_PHOTO + " Upload the driving video in 'Driving video' (sample: driving.mp4).",
        columns=(
            (("Start here", [NOTE]), ("Models", ["3"])),
            (("1. Portrait, speech, driving video", ["1", "2", "10"]),),
            (("2. Face crop and motion", ["4", "20", "5"]),),
            (("3. Pose from the driving video", ["11", "12", "13"]),),
            (("4. Render and save the video", ["6", "7", "8"]),),
        )),
    "expression_edit": Layout(
        title="Expression editing smile brows gaze",
        needs="a portrait photo, a speech file",
        does="Edit expressions with sliders: on the still photo (left, previews as you change a slider) and on "
             "the talking motion, with keyframed curves (smile, brows, eyes, gaze, mouth shapes, head angles), "
             "plus natural blinks and a closed mouth in pauses.",
        columns=(
            (("Start here", [NOTE]), ("Try an expression on the photo", ["12"])),
            (("Models", ["3"]), ("1. Portrait and speech", ["1", "2"])),
            (("2. Face crop", ["4", "20"]), ("3. Talking motion, blinks", ["5", "6"])),
            (("4. Edit the talking motion", ["7", "11"]),),
            (("5. Render and save the video", ["8", "9", "10"]),),
        )),
    "dub_video": Layout(
        title="Lip sync dubbing of a video",
        needs="a video of a face, a speech file",
        does="Dubs a video: the face in the video speaks the new recording (lip sync), the rest of each frame "
             "stays as it was. Video -> face track -> motion from the new speech -> dubbed mp4.",
        upload="Upload: a video with one face in 'Video to dub' and the new speech in 'New speech' (samples: "
               "driving.mp4, speech.wav from the pack's workflows/assets).",
        columns=(
            (("Start here", [NOTE]), ("Models", ["3"])),
            (("1. Video and new speech", ["1", "2"]),),
            (("2. Face track and motion", ["4", "20", "5"]),),
            (("3. Dub and save", ["6"]),),
        )),
    "long_audio_to_file": Layout(
        title="Long speech to a video file",
        needs="a portrait photo, a long speech file",
        does="For long recordings: the motion is saved to a .pmotion file (reload it later with Load Motion) "
             "and the frames are written straight to an mp4 on disk, so memory stays small however long the "
             "speech is.",
        columns=_std((("2. Face crop and motion", ["4", "20", "5"]),),
                     (("3. Save the motion, render the file", ["6", "7"]),))),
}
