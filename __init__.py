"""Playmate for ComfyUI: audio-driven portrait animation on LivePortrait's face engine.

ComfyUI imports this package from `custom_nodes/` and calls `comfy_entrypoint` (V3 node API). The
nodes live in `nodes/`; the model code in `playmate_core/` never imports ComfyUI, and importing
this file alone imports nothing from ComfyUI either (tests and the trainer can import the package).
"""


async def comfy_entrypoint():
    from .nodes import comfy_entrypoint as entrypoint
    return await entrypoint()
