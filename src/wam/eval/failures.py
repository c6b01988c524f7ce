"""Failure tags: why an episode failed, read from the simulator's state (never from the model).

Each closed-loop episode feeds the runner's privileged 39-d Meta-World state, step by step, to a
`FailureTracker`; at the end it returns the tags that apply, first the primary one (the earliest
stage of the task that went wrong), so that counts of primary tags add up to the failures.

The stages, in order (definitions in docs/probes.md, thresholds measured on expert episodes):

- ``never_reached``: the hand never came within REACH_RADIUS of what it must touch (the object or
  handle; the goal marker for reach tasks).
- ``never_grasped`` (grasp tasks): the hand reached the object but never lifted it LIFT_HEIGHT
  above where it started.
- ``dropped`` (grasp tasks): the object was lifted, then ended back near its starting height with
  the hand away from it.
- ``never_moved`` (push and articulation tasks): the hand reached the object but never moved it
  MOVE_DISTANCE from where it started.
- ``wrong_contact``: the object moved, but ended no closer to its goal than it started (pushed
  off course, handle pulled the wrong way).
- ``timed_out``: made progress but did not finish within the step limit. Every failure that ran to
  the limit also carries it as a secondary tag.

A successful episode has no tags. Tasks that are neither reach nor in the grasp set are treated as
contact tasks (push, doors, drawers, windows, buttons): object displacement is what counts.
"""

from __future__ import annotations

import numpy as np

# Meta-World v3's 39-d state: hand xyz, gripper opening, object xyz + quaternion, a second object
# (xyz + quaternion), the same 18 for the previous frame, then the goal xyz.
HAND, OBJECT, GOAL = slice(0, 3), slice(4, 7), slice(36, 39)

REACH_RADIUS = 0.06  # m, hand to object (goal for reach); see benchmarks/failure_thresholds.py
LIFT_HEIGHT = 0.02  # m above the object's starting height
MOVE_DISTANCE = 0.01  # m from the object's starting position
PROGRESS_MARGIN = 0.01  # m: ending this much closer to the goal than at the start counts as progress

GRASP_TASKS = frozenset(
    {"pick-place-v3", "peg-insert-side-v3", "pick-out-of-hole-v3", "bin-picking-v3", "assembly-v3", "disassemble-v3",
     "pick-place-wall-v3", "hammer-v3", "basketball-v3", "shelf-place-v3", "stick-pull-v3", "stick-push-v3"}
)
REACH_TASKS = frozenset({"reach-v3", "reach-wall-v3"})
TAGS = ("never_reached", "never_grasped", "dropped", "never_moved", "wrong_contact", "timed_out")


# The phases of each kind of task, in order, and the primary tag of an episode that failed there:
# an episode whose primary tag belongs to phase k passed phases 0..k-1 (tags name the earliest stage
# that went wrong), and a success passed them all.
PHASES = {
    "reach": (("reached", "never_reached"), ("success", "timed_out")),
    "grasp": (("reached", "never_reached"), ("grasped", "never_grasped"), ("held", "dropped"),
              ("progressed", "wrong_contact"), ("success", "timed_out")),
    "contact": (("reached", "never_reached"), ("moved", "never_moved"), ("progressed", "wrong_contact"),
                ("success", "timed_out")),
}


def task_kind(task: str) -> str:
    """'reach', 'grasp' or 'contact': which phases the task has."""
    return "reach" if task in REACH_TASKS else "grasp" if task in GRASP_TASKS else "contact"


class FailureTracker:
    """Running statistics of one episode's simulator state, enough to tag its failure."""

    def __init__(self, task: str):
        self.task = task
        self.kind = task_kind(task)
        self.object0 = self.goal = self.last = None
        self.goal_distance0 = 0.0
        self.closest_reach = np.inf
        self.max_move = 0.0
        self.lifted = False

    def update(self, state: np.ndarray) -> None:
        """The state after a step. The first one is the reference for "moved" and "lifted": the
        state Meta-World returns at reset holds stale object positions for some tasks (measured:
        window-open's handle 16 cm off), and nothing moves far in one step."""
        state = np.asarray(state, dtype=np.float64)
        hand, obj = state[HAND], state[OBJECT]
        if self.object0 is None:
            self.object0, self.goal = obj.copy(), state[GOAL].copy()
            self.goal_distance0 = float(np.linalg.norm(self.object0 - self.goal))
        target = self.goal if self.kind == "reach" else obj
        self.closest_reach = min(self.closest_reach, float(np.linalg.norm(hand - target)))
        self.max_move = max(self.max_move, float(np.linalg.norm(obj - self.object0)))
        self.lifted |= bool(obj[2] - self.object0[2] > LIFT_HEIGHT)
        self.last = state

    def tags(self, success: bool, ran_to_limit: bool) -> list[str]:
        """The failure tags, primary first; [] for a success."""
        if success:
            return []
        if self.last is None:
            return ["timed_out"] if ran_to_limit else []
        tags = [self._primary()]
        if ran_to_limit and tags[0] != "timed_out":
            tags.append("timed_out")
        return tags

    def _primary(self) -> str:
        if self.closest_reach > REACH_RADIUS:
            return "never_reached"
        if self.kind == "reach":
            return "timed_out"
        obj = self.last[OBJECT]
        if self.kind == "grasp":
            if not self.lifted:
                return "never_grasped"
            back_down = obj[2] - self.object0[2] < LIFT_HEIGHT / 2
            hand_away = float(np.linalg.norm(self.last[HAND] - obj)) > REACH_RADIUS
            if back_down and hand_away:
                return "dropped"
        elif self.max_move < MOVE_DISTANCE:
            return "never_moved"
        if float(np.linalg.norm(obj - self.goal)) > self.goal_distance0 - PROGRESS_MARGIN:
            return "wrong_contact"
        return "timed_out"


def count_tags(records: list[dict]) -> dict | None:
    """Primary-tag and any-tag counts over episode records (None when none recorded tags, e.g.
    results from before tags existed)."""
    tagged = [r for r in records if r.get("failure_tags") is not None]
    if not tagged:
        return None
    failures = [r for r in tagged if not r["success"]]
    per_task: dict[str, dict[str, int]] = {}
    for r in failures:
        counts = per_task.setdefault(r["task"], {})
        counts[r["failure_tags"][0]] = counts.get(r["failure_tags"][0], 0) + 1
    return {
        "episodes": len(tagged),
        "failures": len(failures),
        "primary": {t: sum(r["failure_tags"][:1] == [t] for r in failures) for t in TAGS},
        "any": {t: sum(t in r["failure_tags"] for r in failures) for t in TAGS},
        "per_task_primary": {task: dict(sorted(c.items())) for task, c in sorted(per_task.items())},
    }


def phase_success(records: list[dict]) -> dict | None:
    """Per task, the share of episodes that got through each phase of the task, read off the
    primary failure tags: {task: {"kind", "n", "phases": {phase: share}}}, shares non-increasing
    along the phases and ending at the success rate. None when no episode recorded tags."""
    tagged = [r for r in records if r.get("failure_tags") is not None]
    if not tagged:
        return None
    out = {}
    for task in sorted({r["task"] for r in tagged}):
        rs = [r for r in tagged if r["task"] == task]
        phases = PHASES[task_kind(task)]
        failed_at = [len(phases) if r["success"] else _phase_of(phases, r["failure_tags"]) for r in rs]
        out[task] = {
            "kind": task_kind(task),
            "n": len(rs),
            "phases": {name: round(sum(k > i for k in failed_at) / len(rs), 4) for i, (name, _) in enumerate(phases)},
        }
    return out


def _phase_of(phases: tuple, tags: list[str]) -> int:
    """Index of the phase a failed episode stopped at (a tag foreign to the task's kind, or none at
    all, counts as failing its last phase: it got through everything else)."""
    primary = tags[0] if tags else "timed_out"
    for i, (_, tag) in enumerate(phases):
        if tag == primary:
            return i
    return len(phases) - 1
