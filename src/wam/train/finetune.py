"""Start a training run from a trained model (`wam train --init-from <model folder>`).

Few-shot transfer to tasks the model never saw: the new run builds the model with the trained
config on the new dataset's spec, then copies every trained tensor. Task-indexed tables (the task
embedding) are matched by instruction text: a task the model knows keeps its row, a new task gets
the mean of the known rows (a neutral start the few demos move). The instruction-embedding table
is recomputed from the new tasks' text (it is a lookup, not a weight). Input and action
normalisation stay the trained model's, so the pretrained weights see inputs scaled as they were.
"""

from __future__ import annotations

from pathlib import Path

import torch

from wam.data.cache import DataSpec
from wam.errors import WamError, require
from wam.train.checkpoint import config_from_json, load_tensors, read_model_config

# state-dict keys of tables indexed by task (rows follow spec.task_names)
TASK_TABLE_SUFFIXES = ("task.weight",)
# state set from the new dataset, not copied: instruction embeddings of its tasks, and whether
# its episodes carry success flags (latent-rollout's judge)
RECOMPUTED_SUFFIXES = ("instruction_table", "success_trained")


def checkpoint_config(folder: Path, model_name: str):
    """The trained model's config (a finetune must build the same architecture)."""
    from wam.models.base import model_class

    meta = read_model_config(folder)
    require(meta["model"] == model_name, f"--init-from {folder} holds a '{meta['model']}' model, not '{model_name}' (--model)")
    return config_from_json(model_class(model_name).config_class, meta["config"]), meta


def init_from_checkpoint(model, folder: Path) -> dict:
    """Copy the trained weights of `folder` into `model` (built on the new dataset's spec).
    Returns {"known_tasks": [...], "new_tasks": [...]} for the run's record."""
    folder = Path(folder)
    meta = read_model_config(folder)
    old_spec, new_spec = DataSpec.from_json(meta["data_spec"]), model.spec
    for field in ("image_shape", "state_dim", "action_dim"):
        if getattr(old_spec, field) != getattr(new_spec, field):
            raise WamError(f"--init-from {folder}: its {field} is {getattr(old_spec, field)}, the dataset's is {getattr(new_spec, field)}")
    trained = model.upgrade_state_dict(load_tensors(folder / "model.safetensors"))
    state = model.state_dict()
    missing = sorted(set(state) - set(trained))
    require(not missing, f"--init-from {folder} does not match model '{model.name}': missing {missing[:3]}")
    known = [t for t in new_spec.task_names if t in old_spec.task_names]
    new = [t for t in new_spec.task_names if t not in old_spec.task_names]
    loaded = {}
    for key, target in state.items():
        source = trained[key]
        if key.endswith(RECOMPUTED_SUFFIXES):
            loaded[key] = target  # recomputed for the new tasks
        elif key.endswith(TASK_TABLE_SUFFIXES):
            mean = source.mean(0)
            rows = [source[old_spec.task_names.index(t)] if t in old_spec.task_names else mean for t in new_spec.task_names]
            loaded[key] = torch.stack(rows).to(target.dtype)
        elif source.shape != target.shape:
            raise WamError(f"--init-from {folder}: '{key}' has shape {tuple(source.shape)}, the new model {tuple(target.shape)}")
        else:
            loaded[key] = source
    model.load_state_dict(loaded)
    return {"from": str(folder), "known_tasks": known, "new_tasks": new}
