"""Training scripts for Playmate's stages (face space, motion DiT, emotion module).

    trainer/prepare_data.py    videos -> prepared dataset (manifest.jsonl, motion/, audio/, crops/, report.json)
    trainer/stage0_face.py     stage 0: fine-tune LivePortrait's F, M, W, G on the prepared crops
    trainer/stage1_motion.py   stage 1: audio -> motion denoiser (writes motion_stage1.safetensors)
    trainer/stage2_emotion.py  stage 2: emotion module on the frozen stage 1 (motion_emotion / motion_full)
Data: prepare_clip.py (one video -> single-person segments), video_io.py (streamed decoding),
scene_cut.py, face_track.py (one identity per segment), crops_store.py (JPEG crops), labels_csv.py and
label_readers.py (CSV, MEAD, CelebV-Text labels). Training: config.py (strict YAML / --set config),
common.py (DDP, logging, EMA, LR, RNG, threads), loop.py (steps, NaN guard, checkpoints, exact resume),
stopping.py (SIGINT / SIGTERM), run_record.py (run folder records, resume config check),
provenance.py (dataset / face / encoder hashes), scalars.py (CSV / TensorBoard, speed), validation.py
(held-out identities), data.py (dataset, statistics, windows), batches.py.

`trainer/` imports `playmate_core` and never `nodes/`.
"""
