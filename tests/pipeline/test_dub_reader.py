"""Video dubbing, input (pipeline/dub_reader.py): frames read in any policy's order (loop wraps, ping-pong runs
backward) are bit-identical to a plain decode, from a path or an in-memory file, with a bounded cache."""
import io
from fractions import Fraction

import av
import numpy as np
import pytest

from playmate_core.pipeline.dub_reader import CACHE_BYTES, FrameReader, block_for, decode_frames, probe
from playmate_core.pipeline.dub_timing import DUB_POLICIES, source_frame_indices


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """57 frames at 29.97 fps, key frame every 10 frames, B-frames: every frame has its own pattern."""
    path = tmp_path_factory.mktemp("reader") / "gop.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(30000, 1001))
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        s.options = {"g": "10", "bf": "2", "crf": "20"}
        for i in range(57):
            img = np.zeros((64, 96, 3), np.uint8)
            img[..., 0] = (i * 4) % 256
            img[i % 64, :, 1] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return path


@pytest.fixture(scope="module")
def decoded(clip):
    pts, frames = zip(*decode_frames(clip))
    return list(pts), list(frames)


def test_probe_and_plain_decode(clip, decoded):
    rate, estimate = probe(clip)
    assert rate == Fraction(30000, 1001) and estimate == 57
    pts, frames = decoded
    assert len(frames) == 57 and len(set(pts)) == 57 and frames[0].shape == (64, 96, 3)
    assert len({f.tobytes() for f in frames}) == 57


@pytest.mark.parametrize("policy", [p for p in DUB_POLICIES if p != "trim"])
@pytest.mark.parametrize("in_memory", [False, True], ids=["path", "bytesio"])
def test_any_policy_order_reads_the_same_frames(clip, decoded, policy, in_memory):
    pts, frames = decoded
    src = io.BytesIO(clip.read_bytes()) if in_memory else clip
    order = source_frame_indices(57, 30000 / 1001, 160, 25, policy)
    with FrameReader(src, pts, block=6) as reader:
        for k in order.tolist():
            got = reader.get(k)
            assert np.array_equal(got, frames[k]), (policy, k)
            assert len(reader.cache) <= 6


def test_random_order_and_limits(clip, decoded):
    pts, frames = decoded
    rng = np.random.default_rng(0)
    with FrameReader(clip, pts, block=4) as reader:
        for k in rng.integers(0, 57, 80).tolist():
            assert np.array_equal(reader.get(k), frames[k])
        with pytest.raises(IndexError, match="frame 57 requested from a video of 57 frames"):
            reader.get(57)
    assert block_for(1080, 1920) * 1080 * 1920 * 3 <= CACHE_BYTES and block_for(8000, 8000) == 1


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        probe(tmp_path / "missing.mp4")
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(ValueError, match="cannot read the video"):
        probe(tmp_path / "text.mp4")
    with pytest.raises(ValueError, match="file path or a seekable binary file"):
        probe(42)
