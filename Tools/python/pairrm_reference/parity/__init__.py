"""LLM-Blender parity fixtures: LLM-Blender's own code run on the tiny checkpoint."""
