"""Data: collection, the LeRobot v3.0 layout, and the training cache."""
