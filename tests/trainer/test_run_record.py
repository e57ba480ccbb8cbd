"""Resume checks: keys added by a later trainer version are not changes; changed keys are."""
from trainer.run_record import RESUME_FREE, config_changes


def test_keys_missing_from_the_saved_config_do_not_block_a_resume():
    old = {"lr": 1e-4, "val": {"every": 1000}}
    new = {"lr": 1e-4, "val": {"every": 1000, "video_every": 5, "emotion_clips": 2}}
    assert config_changes(old, new) == []


def test_a_changed_or_removed_key_is_a_change():
    old = {"lr": 1e-4, "steps": 10, "val": {"every": 1000}}
    new = {"lr": 2e-4, "val": {"every": 1000}}
    assert config_changes(old, new) == [("lr", 1e-4, 2e-4), ("steps", 10, "<absent>")]


def test_watching_keys_may_change_on_resume():
    for key in ("val.emotion_clips", "val.video_every", "val.video_seconds", "val.video_size", "log_every"):
        assert key in RESUME_FREE
