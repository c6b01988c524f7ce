"""wam: World Action Models. Composable parts, reference models and one closed-loop benchmark."""

__version__ = "0.1.0"
