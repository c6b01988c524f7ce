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

    rows = {name: cls.anatomy.to_json() for name, cls in sorted(MODELS.items())}
    if cfg.json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="registered models")
    for col in ("name", "kind", "substrate", "coupling", "backbone", "regimes", "lineage"):
        table.add_column(col)
    for name, a in rows.items():
        table.add_row(name, a["kind"], a["substrate"], a["coupling"], a["backbone"], ", ".join(a["regimes"]), a["lineage"])
    Console().print(table)
