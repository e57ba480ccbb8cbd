"""The emotion label list and intensity levels: the one definition every part imports.

The paper's seven emotions plus neutral (MEAD's classes), in a fixed order that is also the row order
of the emotion embedding in every Playmate checkpoint; intensities are MEAD's levels 1-3.
"""
EMOTION_LABELS = ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")
INTENSITY_LEVELS = (1, 2, 3)
