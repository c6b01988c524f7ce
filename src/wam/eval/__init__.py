"""Evaluation metrics and analyses that read models only through the model interface."""
