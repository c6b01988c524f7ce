"""Initial-condition seeds, split into ranges that are disjoint by construction.

Every episode (collected or evaluated) is identified by (task, seed); the seed alone fixes the
initial condition (object and goal positions). Training data only ever draws from the `train`
range and evaluation from `heldout`, and the ranges cannot overlap, so no held-out initial condition
is ever seen in training. Inference settings (noise scale, sampling steps, executed steps) are chosen
on `validation`, so the held-out numbers are not tuned on the held-out episodes either. `tests/test_envs.py` checks both the ranges and the resulting states.
"""

from __future__ import annotations

from wam.errors import WamError, unknown_choice

SPLIT_SIZE = 1_000_000
SPLITS: dict[str, range] = {
    "train": range(0, SPLIT_SIZE),
    "heldout": range(SPLIT_SIZE, 2 * SPLIT_SIZE),
    # Reserved for few-shot finetuning on unseen tasks and perturbation studies.
    "finetune": range(2 * SPLIT_SIZE, 3 * SPLIT_SIZE),
    # For choosing inference settings; neither trained on nor reported as held-out success.
    "validation": range(3 * SPLIT_SIZE, 4 * SPLIT_SIZE),
}


def episode_seeds(split: str, count: int, start: int = 0) -> list[int]:
    """The seeds of episodes start..start+count-1 of a split."""
    if split not in SPLITS:
        raise unknown_choice("seed split", split, SPLITS)
    rng = SPLITS[split]
    if count < 0 or start < 0 or start + count > len(rng):
        raise WamError(f"split '{split}' holds {len(rng)} seeds; asked for {start}..{start + count - 1}")
    return list(rng[start : start + count])


def split_of(seed: int) -> str:
    for name, rng in SPLITS.items():
        if seed in rng:
            return name
    raise WamError(f"seed {seed} lies in no split (valid: 0..{max(r.stop for r in SPLITS.values()) - 1})")
