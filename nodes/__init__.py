"""ComfyUI V3 nodes of Playmate: thin translators from ComfyUI types to `playmate_core` calls.

Runtime concerns (model cache, device/offload, progress, interruption) will live in one adapter
module here. Arrows point one way: nodes -> playmate_core <- trainer.
"""
