"""`wam report`: one static HTML page from one or more eval.json results.

The page is self-contained in its folder (plots and rollout media are copied next to it), so it
can be committed, zipped or served as is. Results are ranked only if their protocols agree on
every field that changes a success rate; otherwise the report refuses and names the field.
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from wam.data.io import atomic_path, read_json
from wam.errors import WamError, require
from wam.report import plots

# Fields that must match for two results to share one table.
COMPARABLE_FIELDS = ("env", "tasks", "episodes_per_task", "seed_split", "seeds", "camera", "resolution", "max_steps", "shift")


@dataclass
class ReportConfig:
    """Build a static HTML report from eval results."""

    results: list[Path] = field(default_factory=lambda: [Path("runs/mt10/flow-policy/eval/eval.json")])
    """eval.json files, or folders that contain one"""
    out: Path = Path("results/mt10/report")
    """output folder (index.html, plots, media)"""
    title: str = "wam: closed-loop evaluation"
    """page title"""
    sweeps: list[Path] = field(default_factory=list)
    """sweep.json files from `wam sweep` (runtime-option curves, e.g. the fidelity-latency dial)"""
    media: bool = True
    """copy rollout videos into the report folder (off: tables and plots only)"""
    label_efficiency: list[Path] = field(default_factory=list)
    """label-efficiency.json files from `wam label-efficiency` (success vs labelled episodes)"""
    check: bool = False
    """open the page in headless Chromium and fail if any image or video does not load"""
    probes: list[Path] = field(default_factory=list)
    """`wam probe` result files (<property>.json), or folders of them: the five-property table"""
    reference: str = ""
    """the result every other is paired against, episode by episode (a model name, or its leaderboard name
    when one model has several rows; default: the first policy, i.e. the first result of kind 'policy')"""


def load_result(path: Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "eval.json"
    result = read_json(path, "eval result")
    for key in ("model", "anatomy", "protocol", "per_task", "mean_success", "pooled_ci95", "latency_ms", "params"):
        if key not in result:
            raise WamError(f"{path} is not a wam eval result (missing '{key}')")
    missing = [t for t in result["protocol"].get("tasks", []) if t not in result["per_task"]]
    if missing:
        raise WamError(f"{path} is corrupt: no per-task result for {missing}")
    result["_path"] = path
    # `wam suite --pace scale` writes suite-entry.json beside a row it trained with a budget scaled to
    # another machine's pace: its wall-clock minutes are then not the compute they look like. A row
    # whose machine was within the tolerance keeps the nominal budget (minutes_scale 1) and is left as is.
    entry = path.parent / "suite-entry.json"
    if entry.exists():
        pace = (read_json(entry, "suite entry").get("row") or {}).get("pace")
        if pace:
            require(isinstance(pace, dict) and all(isinstance(pace.get(k), (int, float)) and pace[k] > 0
                                                   for k in ("ratio", "minutes_scale")),
                    f"{entry} is corrupt: its row's pace needs a positive 'ratio' and 'minutes_scale'")
            if pace["minutes_scale"] != 1:
                result["training_pace"] = pace
    return result


def _first_machine(results: list[dict]) -> str | None:
    """The machine of the first result that names one (the protocol card shows the first result's)."""
    return next((r["protocol"]["machine"] for r in results if r["protocol"].get("machine")), None)


def _evaluated_elsewhere(results: list[dict]) -> None:
    """Mark the results evaluated on another machine than `_first_machine`: latency is a property
    of the CPU as much as of the model."""
    first = _first_machine(results)
    for r in results:
        machine = r["protocol"].get("machine")
        r["elsewhere"] = bool(first and machine and machine != first)


def _latency_cell(r: dict) -> str:
    return f"{r['latency_ms']['p50']:.1f} / {r['latency_ms']['p95']:.1f}{' †' if r.get('elsewhere') else ''}"


def _training_time(r: dict) -> str:
    """Wall-clock training minutes; for a row whose budget the suite scaled to another machine's pace,
    also its minutes at the pace of the rows it was matched to (the compute it was given)."""
    seconds = r["protocol"].get("training_seconds")
    if not seconds:
        return "–"
    minutes, pace = seconds / 60, r.get("training_pace")
    if not pace:
        return f"{minutes:.0f} min"
    return f"{minutes:.0f} min at {pace['ratio']:.2f}× pace (≈ {minutes / pace['minutes_scale']:.0f} at the reference pace)"


def _footnotes(results: list[dict]) -> list[str]:
    notes = []
    elsewhere = [r for r in results if r.get("elsewhere")]
    if elsewhere:
        first = _first_machine(results)
        unknown = [_name(r) for r in results if not r["protocol"].get("machine")]
        notes.append(
            "† evaluated on " + "; ".join(f"{machine} ({', '.join(_name(r) for r in elsewhere if r['protocol']['machine'] == machine)})"
                                          for machine in sorted({r['protocol']['machine'] for r in elsewhere}))
            + f", not on the first result's machine ({first})"
            + (f"; no machine recorded for {', '.join(unknown)}" if unknown else "")
            + ": compare latency only between results from one machine (the machine string includes the kernel release)")
    for r in results:
        if r.get("training_pace"):
            p = r["training_pace"]
            notes.append(
                f"{_name(r)} trained on a machine at {p['ratio']:.2f}× the training speed of "
                f"{p.get('model', 'the reference row')} on {p.get('reference_machine') or 'its machine'} "
                f"({p.get('steps_per_s', '?')} against {p.get('reference_steps_per_s', '?')} steps/s), so `wam suite` "
                f"scaled its budget by {p['minutes_scale']:g} to the same compute; its training compute is counted at the reference pace")
    return notes


def check_comparable(results: list[dict]) -> None:
    ref = results[0]
    for r in results[1:]:
        for key in COMPARABLE_FIELDS:
            if r["protocol"].get(key) != ref["protocol"].get(key):
                raise WamError(
                    f"refusing to rank results with different protocols: '{key}' differs between "
                    f"{ref['_path']} and {r['_path']}"
                )


def _other_regime(protocol: dict) -> str | None:
    """The regime when it is not the default chunked one (one checkpoint is often evaluated in
    several, and the rows must tell them apart)."""
    regime = protocol.get("regime", "chunked")
    return None if regime == "chunked" else regime


def _label(r: dict) -> str:
    p = r["protocol"]
    options = "".join(f", {k}={v}" for k, v in (p.get("model_options") or {}).items())
    regime = f", {_other_regime(p)}" if _other_regime(p) else ""
    return f"{r['model']} (K={p.get('chunk_length')}, exec {p.get('executed_steps')}{regime}{options})"


def _name(r: dict) -> str:
    """The model name, with its non-default regime, its runtime options and its proposal model
    when it has any."""
    regime = _other_regime(r["protocol"])
    name = f"{r['model']} · {regime}" if regime else r["model"]
    options = ", ".join(f"{k}={v}" for k, v in (r["protocol"].get("model_options") or {}).items())
    name = f"{name} [{options}]" if options else name
    proposer = r.get("proposer")
    return f"{name} ← {proposer['model']}" if proposer else name


def pick_reference(results: list[dict], wanted: str) -> dict | None:
    """The result the paired comparison is made against: the one named (by model or leaderboard
    name), else the first policy; None when nothing is named and no result is a policy."""
    if not wanted:
        return next((r for r in results if r["anatomy"].get("kind") == "policy"), None)
    matches = [r for r in results if wanted in (r["model"], _name(r))]
    names = ", ".join(sorted({_name(r) for r in results}))
    require(len(matches) > 0, f"unknown --reference {wanted!r}: the results are {names}")
    require(len(matches) == 1, f"--reference {wanted!r} names {len(matches)} results: give one of {names}")
    return matches[0]


def paired_rows(results: list[dict], reference: dict | None) -> list[tuple[dict, dict | None]]:
    """Each other result with its episode-by-episode comparison against the reference (None when
    either evaluation predates per-episode records)."""
    from wam.eval.metrics import paired_comparison

    if reference is None:
        return []
    rows = []
    for r in sorted(results, key=lambda r: -r["mean_success"]):
        if r is reference:
            continue
        both = r.get("episodes") and reference.get("episodes")
        rows.append((r, paired_comparison(reference["episodes"], r["episodes"]) if both else None))
    return rows


def _p_value(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.0e}"


def paired_section(rows: list[tuple[dict, dict | None]], reference: dict | None) -> str:
    if not rows:
        return ""
    e = html.escape
    cells = []
    for r, c in rows:
        if c is None:
            cells.append(f"<tr><td>{e(_name(r))}</td><td colspan='6'>not recorded (evaluated before per-episode records)</td></tr>")
            continue
        cells.append(
            f"<tr><td>{e(_name(r))}</td><td>{c['wins']}</td><td>{c['losses']}</td><td>{c['both']}</td><td>{c['neither']}</td>"
            f"<td>{c['episodes']}</td><td>{_p_value(c['p_value'])}</td></tr>"
        )
    return (
        f"<h2>Paired against {e(_name(reference))}</h2><p>Every result is evaluated on the same initial conditions, so "
        "each episode can be compared with the reference's episode from the same (task, seed). <i>Wins</i>: this model "
        "succeeds where the reference fails; <i>losses</i>: the reverse. p is the exact two-sided McNemar test on the "
        "wins and losses (the chance of a split at least this uneven if neither model were better). Pairing removes "
        "what the two share, so it can separate models whose Wilson intervals overlap.</p>"
        "<table><tr><th>model</th><th>wins</th><th>losses</th><th>both succeed</th><th>both fail</th><th>episodes</th>"
        f"<th>McNemar p</th></tr>{''.join(cells)}</table>"
    )


def _params(r: dict) -> str:
    """Parameters used at each decision (a scorer's proposal model included)."""
    text = f"{r['params'] / 1e6:.2f}M"
    proposer = r.get("proposer")
    return f"{text} + {proposer['params'] / 1e6:.2f}M" if proposer else text


def load_sweep(path: Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "sweep.json"
    sweep = read_json(path, "sweep result")
    for key in ("model", "option", "points", "protocol"):
        if key not in sweep:
            raise WamError(f"{path} is not a wam sweep result (missing '{key}')")
    sweep["_path"] = path
    return sweep


def sweep_section(sweeps: list[dict], out: Path) -> str:
    e = html.escape
    parts = []
    for i, sw in enumerate(sweeps):
        name = f"sweep-{i:02d}-{sw['model']}-{sw['option']}.png"
        plots.sweep_curve(sw, out / name)
        p = sw["protocol"]
        rows = "".join(
            f"<tr><td>{e(str(pt['value']))}</td><td><b>{_pct(pt['mean_success'])}</b></td>"
            f"<td>{_pct(pt['pooled_ci95'][0])} – {_pct(pt['pooled_ci95'][1])}</td>"
            f"<td>{pt['latency_ms']['p50']:.1f} / {pt['latency_ms']['p95']:.1f}</td>"
            f"<td>{pt['calls_per_episode']:.1f}</td><td>{pt['episodes']}</td></tr>"
            for pt in sw["points"]
        )
        parts.append(
            f"<h3>{e(sw['model'])}: {e(sw['option'])}</h3><p>One checkpoint ({e(sw['checkpoint'])}), "
            f"{p.get('episodes_per_task')} held-out episodes per task on {len(p.get('tasks', []))} tasks per setting, "
            f"same seeds and sampling noise for every setting.</p>"
            f"<table><tr><th>{e(sw['option'])}</th><th>success</th><th>95% CI</th><th>latency p50 / p95 (ms)</th>"
            f"<th>calls / episode</th><th>episodes</th></tr>{rows}</table><img src='{e(name)}' alt='sweep curve'>"
        )
    return "<h2>Runtime-option sweeps</h2>" + "".join(parts) if parts else ""


def training_core_minutes(r: dict) -> float | None:
    """CPU training compute of a result: wall-clock minutes x threads x processes. None where it is
    not recorded or the run trained on a GPU (GPU-minutes are another unit)."""
    p = r["protocol"]
    if not p.get("training_seconds") or not p.get("training_threads") or str(p.get("training_device", "cpu")).startswith("cuda"):
        return None
    scale = (r.get("training_pace") or {}).get("minutes_scale", 1.0)  # in the reference machine's core-minutes
    return p["training_seconds"] / 60 * p["training_threads"] * (p.get("training_processes") or 1) / scale


def label_efficiency_section(summaries: list[dict], out: Path) -> str:
    e = html.escape
    parts = []
    for i, summary in enumerate(summaries):
        if summary.get("schema") != "wam.label-efficiency/1":
            raise WamError("a --label-efficiency file is not a `wam label-efficiency` result")
        name = f"label-efficiency-{i:02d}.png"
        plots.label_efficiency_curve(summary, out / name)
        rows = "".join(
            f"<tr><td>{e(pt['model'])}</td><td>{e(pt['kind'])}</td><td>{e(pt['setting'])}</td><td>{pt['labelled_episodes']}</td>"
            f"<td><b>{_pct(pt['mean_success'])}</b></td><td>{_pct(pt['pooled_ci95'][0])} – {_pct(pt['pooled_ci95'][1])}</td>"
            f"<td>{pt['episodes']}</td></tr>"
            for pt in summary["points"]
        )
        parts.append(
            f"<p><code>{e(summary['command'])}</code></p><table><tr><th>model</th><th>kind</th><th>labels</th><th>labelled episodes</th>"
            f"<th>success</th><th>95% CI</th><th>episodes</th></tr>{rows}</table><img src='{e(name)}' alt='label-efficiency curve'>"
        )
    return "<h2>Label efficiency</h2>" + "".join(parts) if parts else ""


PROPERTY_ORDER = ("interactability", "causality", "persistence", "plausibility", "generalization")


def load_probes(paths: list[Path]) -> list[dict]:
    """Probe results from files or folders (every <property>.json in a folder)."""
    from wam.runner.probe import PROBE_SCHEMA

    found = []
    for path in map(Path, paths):
        files = [path / f"{p}.json" for p in PROPERTY_ORDER if (path / f"{p}.json").exists()] if path.is_dir() else [path]
        if not files:
            raise WamError(f"no probe results (<property>.json) in {path}")
        for f in files:
            probe = read_json(f, "probe result")
            if probe.get("schema") != PROBE_SCHEMA:
                raise WamError(f"{f} is not a `wam probe` result")
            found.append(probe)
    return found


def probe_headline(probe: dict) -> str:
    """One cell of the five-property table: the property's headline number, or why it does not apply."""
    if not probe.get("applicable"):
        return f"not applicable: {probe.get('reason', '')}"
    kind = probe["property"]
    if kind == "interactability":
        last = probe["per_offset"][max(probe["per_offset"], key=int)]
        return (f"+{max(probe['per_offset'], key=int)} steps: identified {last['identification_accuracy']:.0%} "
                f"(chance {probe['chance_identification']:.0%}), sensitivity {last['action_sensitivity']:+.4f}")
    if kind == "causality":
        text = f"{'causal' if probe['causal'] else 'LEAKS'}: max action change {probe['max_abs_action_change']:.3g} over {probe['calls']} calls"
        gap = probe.get("imagined_vs_real") or {}
        if gap.get("applicable"):
            text += (f"; success imagined {_pct(gap['imagined']['success'])} vs real {_pct(gap['real']['success'])} "
                     f"(gap {100 * gap['gap']:+.0f} pts; judged one step from real frames {_pct(gap['judged_real']['success'])})")
        return text
    if kind == "persistence":
        parts = []
        for mode, m in probe["modes"].items():
            step = max(m["per_step"], key=int)
            parts.append(f"{mode.replace('_', ' ')} +{step}: latent MSE {m['per_step'][step]['latent_mse']:.4f}")
        return "; ".join(parts)
    if kind == "plausibility":
        offset = max(probe["per_offset"], key=int)
        row = probe["per_offset"][offset]
        return (f"+{offset} steps: object {row['object_error_cm']:.1f} cm (floor {row['object_floor_cm']:.1f}), "
                f"hand {row['hand_error_cm']:.1f} cm (floor {row['hand_floor_cm']:.1f})")
    if kind == "generalization":
        drops = {k: v["drop_vs_none"] for k, v in probe["per_shift"].items() if k != "none"}
        text = "drop " + ", ".join(f"{k} {100 * v:+.0f} pts" for k, v in drops.items()) if drops else "no shift"
        unseen = probe.get("unseen_tasks")
        if unseen:
            text += (f"; unseen tasks ({unseen['shots']} shots): finetuned {_pct(unseen['finetuned']['mean_success'])} "
                     f"vs scratch {_pct(unseen['scratch']['mean_success'])}")
        return text
    return "unknown property"


def probe_section(probes: list[dict]) -> str:
    """Model x property, one headline cell each (definitions in docs/probes.md)."""
    if not probes:
        return ""
    e = html.escape
    table: dict[str, dict[str, str]] = {}
    for probe in probes:
        # named as the leaderboard names a result: one checkpoint probed under two settings is two rows
        options = ", ".join(f"{k}={v}" for k, v in (probe.get("model_options") or {}).items())
        name = f"{probe['model']} [{options}]" if options else probe["model"]
        table.setdefault(name, {})[probe["property"]] = probe_headline(probe)
    head = "".join(f"<th>{e(p)}</th>" for p in PROPERTY_ORDER)
    rows = "".join(
        f"<tr><td>{e(model)}</td>" + "".join(f"<td>{e(cells.get(p, 'not measured'))}</td>" for p in PROPERTY_ORDER) + "</tr>"
        for model, cells in table.items()
    )
    return ("<h2>The five WAM properties</h2><p>Each measured against the simulator from exact states "
            "(docs/probes.md); 'not measured' where no probe result was given.</p>"
            f"<table><tr><th>model</th>{head}</tr>{rows}</table>")


def _copy_media(r: dict, out: Path, slot: str) -> list[dict]:
    media = []
    for item in r.get("videos", []):
        entry = {}
        for kind, rel in item.items():
            src = r["_path"].parent / rel
            if src.exists():
                dst = out / "media" / slot / Path(rel).name
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
                entry[kind] = dst.relative_to(out).as_posix()
        if entry:
            media.append(entry)
    return media


def build_report(cfg: ReportConfig) -> Path:
    require(len(cfg.results) > 0, "give at least one eval result")
    results = [load_result(p) for p in cfg.results]
    check_comparable(results)
    _evaluated_elsewhere(results)
    for i, r in enumerate(results):
        r["label"] = _label(r)
        r["slot"] = f"{i:02d}-{r['model']}"
    cfg.out.mkdir(parents=True, exist_ok=True)
    plots.per_task_success(results, cfg.out / "per_task_success.png")
    plots.success_vs_latency(results, cfg.out / "success_vs_latency.png")
    plots.success_vs_cost(results, [training_core_minutes(r) for r in results], "training compute (CPU core-minutes)",
                          "success at training budget", cfg.out / "success_vs_training.png")
    plots.success_vs_cost(results, [r["protocol"].get("labelled_episodes") for r in results], "action-labelled episodes",
                          "success at label budget", cfg.out / "success_vs_labels.png", log=True)
    for r in results:
        r["media"] = _copy_media(r, cfg.out, r["slot"]) if cfg.media else []
        r["prediction_media"] = (
            _copy_media({**r, "videos": r.get("prediction_videos", [])}, cfg.out, r["slot"]) if cfg.media else []
        )
    reference = pick_reference(results, cfg.reference)
    paired = paired_rows(results, reference)
    extra = paired_section(paired, reference)
    extra += probe_section(load_probes(cfg.probes))
    extra += sweep_section([load_sweep(p) for p in cfg.sweeps], cfg.out)
    extra += label_efficiency_section([read_json(Path(p), "label-efficiency result") for p in cfg.label_efficiency], cfg.out)
    page = render(cfg.title, results, extra)
    with atomic_path(cfg.out / "index.html") as tmp:
        tmp.write_text(page)
    comparison = {id(r): c for r, c in paired if c}
    summary = [
        {
            k: r[k]
            for k in ("model", "anatomy", "mean_success", "pooled_ci95", "latency_ms", "params", "per_task", "prediction_error")
            if k in r
        }
        | {"model_options": r["protocol"].get("model_options") or {}, "machine": r["protocol"].get("machine")}
        | ({"training_pace": r["training_pace"]} if r.get("training_pace") else {})
        | ({"paired_against": {"reference": _name(reference), **comparison[id(r)]}} if id(r) in comparison else {})
        for r in results
    ]
    with atomic_path(cfg.out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    with atomic_path(cfg.out / "results.md") as tmp:
        tmp.write_text(markdown_tables(results, paired, reference))
    return cfg.out / "index.html"


def markdown_tables(results: list[dict], paired: list[tuple[dict, dict | None]] = (), reference: dict | None = None) -> str:
    """The README's tables, generated from the same results as the HTML page."""
    ranked = sorted(results, key=lambda r: -r["mean_success"])
    lines = [
        "| model | kind · coupling | mean success | 95% CI (pooled) | latency p50 / p95 (ms per call) | params | training time | samples seen |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in ranked:
        p = r["protocol"]
        lo, hi = r["pooled_ci95"]
        lines.append(
            f"| {_name(r)} | {r['anatomy'].get('kind', '')} · {r['anatomy'].get('coupling', '')} | "
            f"**{_pct(r['mean_success'])}** | {_pct(lo)} – {_pct(hi)} | "
            f"{_latency_cell(r)} | {_params(r)} | {_training_time(r)} | {p.get('training_samples_seen') or '–'} |"
        )
    for note in _footnotes(results):
        lines += ["", f"{note}."]
    tasks = results[0]["protocol"]["tasks"]
    lines += ["", "| task | " + " | ".join(_name(r) for r in ranked) + " |", "|---|" + "---|" * len(ranked)]
    for t in tasks:
        cells = [
            f"{_pct(r['per_task'][t]['success'])} [{100 * r['per_task'][t]['ci95'][0]:.0f}, {100 * r['per_task'][t]['ci95'][1]:.0f}]"
            for r in ranked
        ]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    if any(c for _, c in paired):
        lines += ["", f"| paired against {_name(reference)} | wins | losses | both succeed | both fail | McNemar p |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {_name(r)} | {c['wins']} | {c['losses']} | {c['both']} | {c['neither']} | {_p_value(c['p_value'])} |"
                  for r, c in paired if c]
    return "\n".join(lines) + "\n"


def _gflops(r: dict) -> str:
    """FLOPs per call and rollout-worker peak memory, where the evaluation recorded them."""
    flops = f"{r['flops_per_call'] / 1e9:.3f}" if r.get("flops_per_call") else "–"
    rss = f"{r['worker_peak_rss_mib']:.0f} MiB" if r.get("worker_peak_rss_mib") else "–"
    return f"{flops} · {rss}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _phase_section(ranked: list[dict]) -> str:
    """Per task and model, the share of episodes through each phase of the task (from the failure tags)."""
    from wam.eval.failures import phase_success

    e = html.escape
    tables = {_name(r): r.get("phase_success") or phase_success(r.get("episodes") or []) for r in ranked}
    tables = {name: t for name, t in tables.items() if t}
    if not tables:
        return ""
    tasks = sorted({task for t in tables.values() for task in t})
    head = "".join(f"<th>{e(name)}</th>" for name in tables)
    rows = []
    for task in tasks:
        some = next(t[task] for t in tables.values() if task in t)
        label = f"{task.removesuffix('-v3')}<br><small>{e(' → '.join(some['phases']))}</small>"
        cells = "".join(
            f"<td>{' → '.join(f'{100 * v:.0f}' for v in t[task]['phases'].values())}</td>" if task in t else "<td>–</td>"
            for t in tables.values()
        )
        rows.append(f"<tr><td>{label}</td>{cells}</tr>")
    return (
        "<h2>Per-phase success</h2><p>Per task, the percentage of episodes that got through each phase, in order "
        "(the last is the success rate), read off the failure tags.</p>"
        f"<table><tr><th>task (phases)</th>{head}</tr>{''.join(rows)}</table>"
    )


def _failure_section(ranked: list[dict]) -> str:
    """Primary failure tag counts per model (src/wam/eval/failures.py), from the simulator's state."""
    from wam.eval.failures import TAGS

    e = html.escape
    head = "".join(f"<th>{e(t.replace('_', ' '))}</th>" for t in TAGS)
    rows = []
    for r in ranked:
        tags = r.get("failure_tags")
        if tags is None:
            rows.append(f"<tr><td>{e(_name(r))}</td><td colspan='{len(TAGS) + 1}'>not recorded (evaluated before failure tags existed)</td></tr>")
            continue
        cells = "".join(f"<td>{tags['primary'][t]}</td>" for t in TAGS)
        per_task = "; ".join(
            f"{task.removesuffix('-v3')}: " + ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in counts.items())
            for task, counts in (tags.get("per_task_primary") or {}).items()
        )
        detail = f"<details><summary>per task</summary><small>{e(per_task)}</small></details>" if per_task else ""
        rows.append(f"<tr><td>{e(_name(r))}{detail}</td><td>{tags['failures']} / {tags['episodes']}</td>{cells}</tr>")
    return (
        "<h2>Why episodes failed</h2><p>Each failed episode gets one primary tag, the earliest stage of the task that "
        "went wrong, read from the simulator's state (definitions in docs/probes.md).</p>"
        f"<table><tr><th>model</th><th>failed</th>{head}</tr>{''.join(rows)}</table>"
    )


def render(title: str, results: list[dict], extra: str = "") -> str:
    e = html.escape
    p = results[0]["protocol"]
    ranked = sorted(results, key=lambda r: -r["mean_success"])
    rows = []
    for r in ranked:
        rp = r["protocol"]
        lo, hi = r["pooled_ci95"]
        rows.append(
            f"<tr><td>{e(_name(r))}</td><td>{e(r['anatomy'].get('kind', ''))} · {e(r['anatomy'].get('coupling', ''))}</td>"
            f"<td><b>{_pct(r['mean_success'])}</b></td><td>{_pct(lo)} – {_pct(hi)}</td>"
            f"<td>{_latency_cell(r)}</td><td>{_gflops(r)}</td><td>{_params(r)}</td>"
            f"<td>{e(_training_time(r))}</td><td>{rp.get('training_samples_seen') or '–'}</td><td>{rp.get('labelled_episodes') or '–'}</td>"
            f"<td>{rp.get('chunk_length')} / {rp.get('executed_steps')}</td></tr>"
        )
    task_head = "".join(f"<th>{e(t.removesuffix('-v3'))}</th>" for t in p["tasks"])
    task_rows = []
    for r in ranked:
        cells = "".join(
            f"<td title='95% CI {_pct(r['per_task'][t]['ci95'][0])}–{_pct(r['per_task'][t]['ci95'][1])}'>"
            f"{_pct(r['per_task'][t]['success'])}<br><small>[{100 * r['per_task'][t]['ci95'][0]:.0f}, {100 * r['per_task'][t]['ci95'][1]:.0f}]</small></td>"
            for t in p["tasks"]
        )
        task_rows.append(f"<tr><td>{e(_name(r))}</td>{cells}</tr>")
    media = []
    for r in results:
        for m in r.get("media", []):
            name = Path(m.get("mp4", m.get("strip", ""))).stem
            video = f"<video src='{e(m['mp4'])}' controls muted loop width='256'></video>" if "mp4" in m else ""
            strip = f"<img src='{e(m['strip'])}' alt='frames of {e(name)}' height='64'>" if "strip" in m else ""
            media.append(f"<figure><figcaption>{e(_name(r))}: {e(name)}</figcaption>{video}<br>{strip}</figure>")
    fidelity_rows = []
    for r in ranked:
        for offset, v in (r.get("prediction_error") or {}).items():
            latent = f"{v['latent_mse']:.4f}" if v.get("latent_mse") is not None else "–"
            fidelity_rows.append(
                f"<tr><td>{e(_name(r))}</td><td>{e(offset)}</td><td>{v['psnr_db']:.2f}</td><td>{v['ssim']:.3f}</td>"
                f"<td>{latent}</td><td>{v['n']}</td></tr>"
            )
    fidelity = (
        "<h2>Prediction fidelity</h2><p>Each predicted future frame against the real frame reached by "
        "executing the model's own actions (only offsets within the executed part of a chunk).</p>"
        "<table><tr><th>model</th><th>steps ahead</th><th>PSNR (dB)</th><th>SSIM</th><th>latent MSE</th><th>n</th></tr>"
        + "".join(fidelity_rows) + "</table>"
        if fidelity_rows
        else ""
    )
    failures = _failure_section(ranked) + _phase_section(ranked)
    for r in results:
        for m in r.get("prediction_media", []):
            name = Path(m.get("mp4", m.get("strip", ""))).stem
            video = f"<video src='{e(m['mp4'])}' controls muted loop width='512'></video>" if "mp4" in m else ""
            media.append(f"<figure><figcaption>{e(_name(r))}: {e(name)} (left predicted, right real)</figcaption>{video}</figure>")
    seeds = p.get("seeds", [])
    seed_text = f"{seeds[0]} … {seeds[-1]} ({len(seeds)} per task)" if seeds else "–"
    card = {
        "environment": p.get("env"),
        "tasks": ", ".join(p["tasks"]),
        "initial conditions": f"split '{p.get('seed_split')}', seeds {seed_text}",
        "camera / resolution": f"{p.get('camera')} / {p.get('resolution')}×{p.get('resolution')}",
        "visual shift": p.get("shift"),
        "max steps": p.get("max_steps"),
        "success": p.get("success"),
        "regime": f"{p.get('regime')}, temporal ensembling {'on' if p.get('temporal_ensembling') else 'off'}",
        "machine": p.get("machine"),
        "versions": ", ".join(f"{k} {v}" for k, v in (p.get("versions") or {}).items()),
    }
    budget_notes = (" On the latency plot † marks a result evaluated on another machine (the note under the leaderboard)."
                    if any(r.get("elsewhere") for r in results) else "")
    budget_notes += (" A row whose budget `wam suite` scaled to another machine's pace is placed at its compute at the reference pace."
                     if any(r.get("training_pace") for r in results) else "")
    card_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in card.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}}
table{{border-collapse:collapse;margin:1em 0}} td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}
th{{background:#f4f4f4}} small{{color:#666}} figure{{display:inline-block;margin:6px}} img{{image-rendering:pixelated}}
.card th{{width:180px}}
</style></head><body>
<h1>{e(title)}</h1>
<h2>Protocol</h2><table class="card">{card_rows}</table>
<h2>Leaderboard</h2>
<table><tr><th>model</th><th>kind · coupling</th><th>mean success</th><th>95% CI (pooled)</th><th>latency p50 / p95 (ms per call)</th><th>GFLOP per call · worker peak RSS</th><th>params</th><th>training time</th><th>samples seen</th><th>labelled episodes</th><th>chunk / executed</th></tr>
{''.join(rows)}</table>
{''.join(f"<p><small>{e(n)}.</small></p>" for n in _footnotes(results))}
<h2>Per task</h2><table><tr><th>model</th>{task_head}</tr>{''.join(task_rows)}</table>
<img src="per_task_success.png" alt="success per task">
<h2>Accuracy at budget</h2>
<p>Each point is one result with its Wilson 95% interval (latency: p50 with a whisker to p95). On the training-compute and label plots the dotted line joins the results that no other beats at equal or lower cost; results that do not record a cost are left off that plot.{budget_notes}</p>
<img src="success_vs_latency.png" alt="success vs latency"> <img src="success_vs_training.png" alt="success vs training compute">
<img src="success_vs_labels.png" alt="success vs labelled episodes">
{fidelity}
{failures}
{extra}
<h2>Rollouts</h2>{''.join(media) or '<p>no rollout media</p>'}
</body></html>
"""


def report_main(cfg: ReportConfig) -> None:
    path = build_report(cfg)
    print(f"wrote {path}")
    if cfg.check:
        from wam.report.browser import check_in_browser

        loaded = check_in_browser(path)
        broken = [src for kind in ("images", "videos") for src, ok in loaded[kind].items() if not ok]
        if broken:
            raise WamError(f"{len(broken)} of the page's media did not load in Chromium: {', '.join(broken[:5])}")
        print(f"checked in headless Chromium: {len(loaded['images'])} images and {len(loaded['videos'])} videos load")
