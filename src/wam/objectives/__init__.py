"""Objectives: stateless loss and sampler functions over tensors and callables."""
