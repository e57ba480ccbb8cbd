"""Training scripts for Playmate's stages (face space, motion DiT, emotion module).

`trainer/` imports `playmate_core` and never `nodes/`.
"""
