"""Playmate for ComfyUI: audio-driven portrait animation on LivePortrait's face engine.

ComfyUI imports this package from `custom_nodes/`. The node pack (V3 `comfy_entrypoint`) lives in
`nodes/`; the model code in `playmate_core/` never imports ComfyUI. Until the nodes land, this
package registers no nodes.
"""
