"""`wam models`: every registered model with its anatomy tuple and lineage."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table


@dataclass
class ModelsConfig:
    """List registered models and their anatomy (substrate, coupling, backbone, regimes)."""

    json: bool = False
    """print JSON instead of a table"""


def models_main(cfg: ModelsConfig) -> None:
    import json

    from wam.models import MODELS

    rows = {}
    for name, cls in sorted(MODELS.items()):
        rows[name] = cls.anatomy.to_json()
        if cls.role != "agent":  # a trained component (e.g. the autoencoder substrate), not a policy
            rows[name]["kind"] = cls.role
        rows[name]["runtime_options"] = dict(cls.runtime_options)
        config = cls.config_class()
        rows[name]["chunk"] = getattr(config, "chunk", None) or getattr(config, "horizon", None)  # planners: H
    if cfg.json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="registered models")
    for col in ("name", "kind", "substrate Φ", "coupling F", "backbone B", "regimes D", "action", "lineage"):
        table.add_column(col)
    for name, a in rows.items():
        action = a["action_representation"] + (f", K={a['chunk']}" if a["chunk"] else "")
        table.add_row(
            name, a["kind"], a["substrate"], a["coupling"], a["backbone"], ", ".join(a["regimes"]), action, a["lineage"]
        )
    # wide enough for one line per model when piped (rich falls back to 80 columns)
    console = Console()
    Console(width=max(console.width, 170)).print(table)
