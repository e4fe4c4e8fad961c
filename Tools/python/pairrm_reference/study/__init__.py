"""Studies: fake-quantization schemes and fidelity tables."""
