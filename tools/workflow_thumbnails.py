"""Template thumbnails: example_workflows/<template name>.jpg, a real frame made by the workflow itself.

Each API workflow runs on the server make_workflows.py uses (the astronaut photo workflows/assets/face.png, the first
second of speech.wav, 12.5 fps), and the middle frame of its video is shown beside the input photo. The weights are
the ones that server has: in this repository only the tiny random demo files, so every thumbnail says
"demo weights (random, untrained)" on the image. Called by `tools/make_workflows.py --thumbnails`.
"""
from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
API_DIR, EXAMPLES, ASSETS = ROOT / "workflows" / "api", ROOT / "example_workflows", ROOT / "workflows" / "assets"
CAPTION = "demo weights (random, untrained)"
DEMO_NAMES = {"motion_generator_hubert_chinese.pt": "joyvasa-tiny-random.pt", "chinese-hubert-base": "hubert-tiny-random"}
W, H, PANEL = 640, 400, 300
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def short_speech(out: Path, seconds: float = 1.0) -> Path:
    with wave.open(str(ASSETS / "speech.wav")) as src, wave.open(str(out), "wb") as dst:
        dst.setparams(src.getparams())
        dst.writeframes(src.readframes(int(src.getframerate() * seconds)))
    return out


def middle_frame(mp4: str) -> Image.Image:
    import av

    with av.open(mp4) as c:
        frames = [f.to_image() for f in c.decode(video=0)]
    return frames[len(frames) // 2].convert("RGB")


def compose(title: str, source: Image.Image, frame: Image.Image) -> Image.Image:
    img = Image.new("RGB", (W, H), (24, 26, 32))
    d = ImageDraw.Draw(img)
    big, small = ImageFont.truetype(FONT, 22), ImageFont.truetype(FONT, 15)
    d.text((W // 2, 24), title, font=big, fill=(240, 240, 240), anchor="mm")
    for k, (pic, label) in enumerate(((source, "input photo"), (frame, "rendered frame"))):
        pic = pic.copy()
        pic.thumbnail((PANEL, PANEL - 20))
        x = 13 + k * (PANEL + 14) + (PANEL - pic.width) // 2
        img.paste(pic, (x, 50 + (PANEL - 20 - pic.height) // 2))
        d.text((13 + k * (PANEL + 14) + PANEL // 2, 50 + PANEL - 6), label, font=small, fill=(200, 200, 200),
               anchor="mm")
    d.rectangle([0, H - 40, W, H], fill=(120, 30, 30))
    d.text((W // 2, H - 20), CAPTION, font=big, fill=(255, 255, 255), anchor="mm")
    return img


def render_all(client, names: list, tmp: Path) -> None:
    from workflow_layouts import LAYOUTS

    speech = client.upload(short_speech(tmp / "thumb_speech.wav"))
    source = Image.open(ASSETS / "face.png").convert("RGB")
    for name in names:
        wf = json.loads((API_DIR / f"{name}_api.json").read_text())
        for node in wf.values():
            ins = node["inputs"]
            if node["class_type"] == "LoadAudio":
                ins["audio"] = speech
            if "fps" in ins and not isinstance(ins["fps"], list):
                ins["fps"] = 12.5
            if node["class_type"] == "PlaymateLoadModels":
                ins.update({k: DEMO_NAMES.get(v, v) for k, v in ins.items() if isinstance(v, str)})
        r = client.run(wf, timeout=600, download=tmp / name)
        videos = [f for f in r.files if str(f.get("saved_to", "")).endswith(".mp4")]
        if r.status != "success" or not videos:
            raise SystemExit(f"{name}: no video to make a thumbnail from ({r.status}: {r.error})")
        still = source if name != "dub_video" else middle_frame(str(ASSETS / "driving.mp4"))
        out = EXAMPLES / f"{LAYOUTS[name].title}.jpg"
        compose(LAYOUTS[name].title, still, middle_frame(videos[0]["saved_to"])).save(out, quality=88)
        print(f"{name}: thumbnail {out.relative_to(ROOT)} ({np.asarray(Image.open(out)).shape})")
