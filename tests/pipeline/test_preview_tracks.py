"""pipeline.preview with tracks: blink, silence and editor tracks drawn under the pose and mouth curves."""
import dataclasses

import numpy as np
import pytest
import torch

from fine_control_helpers import SR, speech_with_pauses, talking_motion
from playmate_core.pipeline import draw_motion_preview
from playmate_core.pipeline.expression_edit import apply_expression, expression_controls
from playmate_core.pipeline.idle import add_idle
from playmate_core.pipeline.tracks import edited, motion_tracks


def test_tracks_add_a_panel_and_show_their_curves():
    m = talking_motion(125)
    idle = add_idle(m, speech_with_pauses([("speech", 2.0), ("pause", 1.0), ("speech", 2.0)]), SR, blink_rate=30)
    plain = draw_motion_preview(dataclasses.replace(idle, tracks=None))
    with_tracks = draw_motion_preview(idle)
    assert plain.shape == with_tracks.shape == (540, 960, 3)
    diff = np.abs(plain.astype(int) - with_tracks.astype(int)).sum(axis=2) > 0
    assert diff[400:].sum() > 2000                                                   # the tracks panel
    edits = apply_expression(idle, expression_controls({}, "smile: 0:0, 5:1\nhead_yaw: 0:0, 5:15"))
    more = draw_motion_preview(edits)
    assert (np.abs(more.astype(int) - with_tracks.astype(int)).sum(axis=2) > 0).sum() > 1000
    assert draw_motion_preview(edits, width=320, height=200).shape == (200, 320, 3)


def test_tracks_merge_and_mismatched_tracks_are_ignored():
    m = talking_motion(10)
    a = edited(m, m.values.clone(), {"blink": torch.zeros(10)})
    b = edited(a, a.values.clone(), {"silence": torch.ones(10)})
    assert set(b.tracks) == {"blink", "silence"} and b.normalised is None
    stale = dataclasses.replace(b, values=b.values[:5])                             # length changed elsewhere
    assert motion_tracks(stale) == {}
    draw_motion_preview(stale)
    with pytest.raises(ValueError, match="3 values for a 10-frame motion"):
        edited(m, m.values.clone(), {"blink": torch.zeros(3)})
