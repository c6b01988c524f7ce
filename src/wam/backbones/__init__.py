"""Backbones: function families independent of what they predict."""
