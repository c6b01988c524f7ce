"""Closed-loop runners: a model under a deployment regime, in an environment."""
