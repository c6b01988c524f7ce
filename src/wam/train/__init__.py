"""Training: the trainer loop and safetensors + JSON checkpoints."""
