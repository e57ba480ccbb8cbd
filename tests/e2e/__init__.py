"""End-to-end tests against a real ComfyUI server (a package, so its conftest does not shadow tests/conftest.py)."""
