"""Reference generators, benchmarks and studies of PairRM-Swift (not shipped; see ../README.md).

Run the scripts as modules, e.g. ``python -m pairrm_reference.golden.make_golden``, with this
package importable: ``pip install -e 'Tools/python[fixtures]'`` or ``PYTHONPATH=Tools/python``.

* ``make_tiny_spm``, ``make_checkpoint``, ``make_expected``: the test checkpoints;
* ``golden``: per-layer golden values, fidelity pair sets, PyTorch reference logits;
* ``parity``: LLM-Blender's own results on the tiny checkpoint;
* ``bench``: PyTorch / ONNX Runtime reference timings and the combined benchmark;
* ``study``: quantization and fidelity studies;
* ``tokenizer``: extra tokenizer conformance cases and the tokenizer benchmark;
* ``paths``: repository, scratch and shared-vocabulary locations (standard library only).
"""
