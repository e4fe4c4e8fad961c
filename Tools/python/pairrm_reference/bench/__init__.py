"""Benchmarks: PyTorch / ONNX Runtime reference timings and the combined table with PairRM-Swift."""
