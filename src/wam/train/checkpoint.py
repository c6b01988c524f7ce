"""Checkpoints: safetensors for tensors, JSON for everything else. Nothing is ever unpickled.

A model checkpoint is a folder:
    model.safetensors   weights and normaliser statistics (buffers)
    config.json         {"schema_version", "model", "config", "data_spec", "anatomy", "train"}
Loading rebuilds the model from config.json through the registry and loads the tensors strictly:
a missing, extra or mis-shaped tensor, or non-finite statistics, is a one-line error.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from wam.data.cache import DataSpec
from wam.data.io import atomic_path, read_json, write_json
from wam.errors import WamError
from wam.models.base import WamModel, model_class

SCHEMA_VERSION = 1


def _config_to_json(config: Any) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))  # tuples -> lists


def config_from_json(config_class: type, data: dict) -> Any:
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = set(data) - set(fields)
    if unknown:
        raise WamError(f"checkpoint config has unknown fields {sorted(unknown)} for {config_class.__name__}")
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
    return config_class(**kwargs)


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)


def load_tensors(path: Path, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise WamError(f"{what} not found: {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise WamError(f"{what} is corrupt: {path}: {e}") from None


def save_model(model: WamModel, folder: str | Path, train_info: dict | None = None, state_dict: dict | None = None) -> Path:
    """Write model.safetensors then config.json (config.json last: its presence marks completeness)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_tensors(folder / "model.safetensors", state_dict if state_dict is not None else model.state_dict())
    write_json(
        folder / "config.json",
        {
            "schema_version": SCHEMA_VERSION,
            "model": model.name,
            "config": _config_to_json(model.config),
            "data_spec": model.spec.to_json(),
            "anatomy": model.anatomy.to_json(),
            "role": model.role,
            "train": train_info or {},
        },
    )
    return folder


def read_model_config(folder: str | Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise WamError(f"checkpoint not found: {folder}")
    meta = read_json(folder / "config.json", "checkpoint config")
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise WamError(f"checkpoint {folder} has schema_version {version}; this wam reads {SCHEMA_VERSION}")
    for key in ("model", "config", "data_spec"):
        if key not in meta:
            raise WamError(f"checkpoint config is corrupt: {folder}/config.json lacks '{key}'")
    return meta


def build_model(meta: dict) -> WamModel:
    cls = model_class(meta["model"])
    try:
        config = config_from_json(cls.config_class, meta["config"])
        spec = DataSpec.from_json(meta["data_spec"])
        return cls(config, spec)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise WamError(f"checkpoint config is corrupt or inconsistent: {type(e).__name__}: {e}") from None


def load_state_strict(model: WamModel, tensors: dict[str, torch.Tensor], source: str) -> None:
    tensors = model.upgrade_state_dict(tensors)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise WamError(f"{source} does not match model '{model.name}': missing {missing[:3]}, unexpected {extra[:3]}")
    for key, value in tensors.items():
        if value.shape != expected[key].shape:
            raise WamError(
                f"{source} does not match model '{model.name}': '{key}' has shape {tuple(value.shape)}, "
                f"the config builds {tuple(expected[key].shape)}"
            )
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise WamError(f"{source}: tensor '{key}' contains NaN or inf")
    model.load_state_dict(tensors, strict=True)


def load_model(folder: str | Path) -> tuple[WamModel, dict]:
    """Rebuild a model from a checkpoint folder; returns (model in eval mode, config.json)."""
    folder = Path(folder)
    meta = read_model_config(folder)
    model = build_model(meta)
    load_state_strict(model, load_tensors(folder / "model.safetensors"), f"checkpoint {folder}")
    model.eval()
    return model, meta
