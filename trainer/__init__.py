"""Training scripts for Playmate's stages (face space, motion DiT, emotion module).

    trainer/prepare_data.py    videos -> prepared dataset (manifest.jsonl, motion/, audio/)
    trainer/stage1_motion.py   stage 1: audio -> motion denoiser (writes motion_stage1.safetensors)
    trainer/stage2_emotion.py  stage 2: emotion module on the frozen stage 1 (motion_emotion / motion_full)
Shared: config.py (strict YAML / --set config), common.py (DDP, logging, EMA, LR, RNG), loop.py
(steps, NaN guard, checkpoints, exact resume), data.py (dataset, statistics, windows), batches.py.

`trainer/` imports `playmate_core` and never `nodes/`.
"""
