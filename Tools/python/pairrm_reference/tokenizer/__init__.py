"""Tokenizer conformance cases and the tokenizer throughput benchmark."""
