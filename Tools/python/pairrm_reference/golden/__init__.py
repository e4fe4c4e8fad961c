"""Per-layer golden fixtures, fidelity pair sets and PyTorch reference logits (see README.md)."""
