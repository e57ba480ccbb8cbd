"""Emotion tracks typed as text -> segments for emotion_weights."""
import math

import pytest

from playmate_core.motion.playmate.emotion import emotion_weights
from playmate_core.motion.track_text import parse_emotion_track


def test_parses_lines_semicolons_open_ends_and_comments():
    text = "0-2.5 happy 3\n# a comment\n2.5-4 Sad; 4-end surprised 1\n\n6- angry"
    assert parse_emotion_track(text) == [(0.0, 2.5, "happy", 3), (2.5, 4.0, "sad", None),
                                         (4.0, 6.0, "surprised", 1), (6.0, math.inf, "angry", None)]
    assert parse_emotion_track("") == [] and parse_emotion_track("  \n# only a comment") == []


def test_parsed_track_drives_emotion_weights():
    emo, inten = emotion_weights(parse_emotion_track("0-1 happy 2\n1-end sad"), None, 50, 25.0, crossfade_s=0.0)
    assert emo[0].argmax() == 4 and emo[-1].argmax() == 6          # happy, sad (alphabetical labels)
    assert inten[0].argmax() == 1 and inten[-1].argmax() == 3      # level 2, unknown


@pytest.mark.parametrize("text, fragment", [("0-2 joyful", "unknown emotion 'joyful'"),
                                            ("2-1 happy", "must be before"),
                                            ("0-1 happy 5", "intensity 5"),
                                            ("happy from 0 to 1", "start-end emotion"),
                                            ("0-3 happy\n2-4 sad", "segments 1 .0-3 s. and 2 .from 2 s. overlap"),
                                            ("1-end happy; 1-2 sad", "overlap"), ("1- happy; 1- sad", "both start at 1 s"),
                                            ("0-1 happy;" * 1001, "more than 1000 segments")])
def test_bad_segments_name_the_segment_and_the_form(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_emotion_track(text)
