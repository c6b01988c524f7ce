"""matplotlib figures for the report (Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from wam.data.io import atomic_path  # noqa: E402


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def per_task_success(results: list[dict], path: Path) -> Path:
    """Grouped bars: success per task per model, with Wilson 95% intervals as error bars."""
    tasks = results[0]["protocol"]["tasks"]
    width = 0.8 / len(results)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(tasks) + 2), 3.6))
    x = np.arange(len(tasks))
    for i, r in enumerate(results):
        s = np.array([r["per_task"][t]["success"] for t in tasks])
        lo = s - np.array([r["per_task"][t]["ci95"][0] for t in tasks])
        hi = np.array([r["per_task"][t]["ci95"][1] for t in tasks]) - s
        ax.bar(x + (i - (len(results) - 1) / 2) * width, 100 * s, width, yerr=100 * np.stack([lo, hi]), capsize=2, label=r["label"])
    ax.set_xticks(x, [t.removesuffix("-v3") for t in tasks], rotation=35, ha="right")
    ax.set_ylabel("success (%)")
    ax.set_ylim(0, 105)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("closed-loop success per task (95% Wilson intervals)")
    _save(fig, path)
    return path


def success_vs_latency(results: list[dict], path: Path) -> Path:
    """Accuracy-at-budget: mean success against per-call latency (p50, with p95 as a whisker)."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for r in results:
        p50, p95 = r["latency_ms"]["p50"], r["latency_ms"]["p95"]
        s = 100 * r["mean_success"]
        lo, hi = (100 * v for v in r["pooled_ci95"])
        # † : evaluated on another machine than the first result (the report's leaderboard names both)
        label = r["label"] + (" †" if r.get("elsewhere") else "")
        ax.errorbar([p50], [s], yerr=[[s - lo], [hi - s]], xerr=[[0], [p95 - p50]], fmt="o", capsize=3, label=label)
    ax.set_xlabel("latency per model call, ms (p50 → p95)")
    ax.set_ylabel("mean success (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("success at latency budget")
    _save(fig, path)
    return path


def pareto_front(xs: list[float], ys: list[float]) -> list[int]:
    """Indices of the points no other point beats on both axes (lower x, higher y), by x."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i], -ys[i]))
    front, best = [], -np.inf
    for i in order:
        if ys[i] > best:
            front.append(i)
            best = ys[i]
    return front


def success_vs_cost(results: list[dict], cost: list[float | None], xlabel: str, title: str, path: Path, log: bool = False) -> Path:
    """Accuracy-at-budget: mean success (Wilson 95%) against one cost per result, with the Pareto
    front (no other result is both cheaper and better). Results without that cost are left out."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    kept = [(r, c) for r, c in zip(results, cost) if c is not None]
    for r, c in kept:
        s = 100 * r["mean_success"]
        lo, hi = (100 * v for v in r["pooled_ci95"])
        ax.errorbar([c], [s], yerr=[[s - lo], [hi - s]], fmt="o", capsize=3, label=r["label"])
    if kept:
        front = pareto_front([c for _, c in kept], [r["mean_success"] for r, _ in kept])
        ax.plot([kept[i][1] for i in front], [100 * kept[i][0]["mean_success"] for i in front], "k:", lw=1, label="Pareto front")
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "not recorded for these results", ha="center", va="center", transform=ax.transAxes, fontsize=8)
    if log:
        ax.set_xscale("log")
    elif kept:
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
        lo, hi = min(c for _, c in kept), max(c for _, c in kept)
        if hi - lo < 0.1 * max(abs(hi), 1e-9):  # equal budgets: centre them instead of zooming in on noise
            ax.set_xlim(0.8 * lo, 1.2 * hi if hi > 0 else 1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean success (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    _save(fig, path)
    return path


def sweep_curve(summary: dict, path: Path) -> Path:
    """Success (Wilson 95%) against median latency per call, one labelled point per setting."""
    pts = summary["points"]
    lat = np.array([p["latency_ms"]["p50"] for p in pts])
    s = np.array([p["mean_success"] for p in pts])
    lo = s - np.array([p["pooled_ci95"][0] for p in pts])
    hi = np.array([p["pooled_ci95"][1] for p in pts]) - s
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.errorbar(lat, 100 * s, yerr=100 * np.stack([lo, hi]), fmt="o-", capsize=3)
    for x, y, p in zip(lat, s, pts):
        ax.annotate(f"{summary['option']}={p['value']}", (x, 100 * y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("latency per call, p50 (ms)")
    ax.set_ylabel("success (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.set_title(f"{summary['model']}: success vs latency ({summary['option']})", fontsize=9)
    _save(fig, path)
    return path


def label_efficiency_curve(summary: dict, path: Path) -> Path:
    """Success (Wilson 95%) against action-labelled episodes, one line per model (log x)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    models = list(dict.fromkeys(p["model"] for p in summary["points"]))
    ticks = sorted({p["labelled_episodes"] for p in summary["points"]})
    for i, model in enumerate(models):
        pts = sorted((p for p in summary["points"] if p["model"] == model), key=lambda p: p["labelled_episodes"])
        x = np.array([p["labelled_episodes"] for p in pts], dtype=float) * (1 + 0.03 * (i - (len(models) - 1) / 2))
        s = np.array([p["mean_success"] for p in pts])
        lo = s - np.array([p["pooled_ci95"][0] for p in pts])
        hi = np.array([p["pooled_ci95"][1] for p in pts]) - s
        kind = pts[0].get("kind", "")
        bars = ax.errorbar(x, 100 * s, yerr=100 * np.stack([lo, hi]), fmt="o" if kind == "WAM" else "s", capsize=3,
                           label=f"{model} ({kind})" if kind else model)
        # join neighbouring budgets only: a setting this model did not run stays a gap, not a line
        where = [ticks.index(p["labelled_episodes"]) for p in pts]
        for j in range(len(pts) - 1):
            if where[j + 1] == where[j] + 1:
                ax.plot(x[j:j + 2], 100 * s[j:j + 2], "-" if kind == "WAM" else "--", color=bars[0].get_color())
    ax.set_xscale("log")
    ax.set_xticks(ticks, [str(t) for t in ticks])  # the budgets themselves, not log-scale minor labels
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("action-labelled episodes (the rest: action-free video)")
    ax.set_ylabel("mean success (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    budget = summary.get("budget", {})
    spent = " + ".join(x for x in (f"{budget['minutes']:g} min" if budget.get("minutes") else "",
                                    f"{budget['steps']} steps" if budget.get("steps") else "") if x)
    per_task = (summary.get("protocol") or {}).get("episodes_per_task")
    detail = ", ".join(x for x in (f"{spent} per run" if spent else "", f"{per_task} held-out episodes/task" if per_task else "") if x)
    ax.set_title(f"label efficiency ({detail}; 95% Wilson intervals)" if detail else "label efficiency (95% Wilson intervals)", fontsize=9)
    _save(fig, path)
    return path


def persistence_plot(result: dict, path: Path) -> Path:
    """Prediction error vs steps ahead, open loop and re-grounded (`wam probe --property persistence`)."""
    modes = result["modes"]
    has_psnr = any("psnr_db" in row for m in modes.values() for row in m["per_step"].values())
    fig, axes = plt.subplots(1, 2 if has_psnr else 1, figsize=(10 if has_psnr else 5, 3.5), squeeze=False)
    for mode, m in modes.items():
        steps = [int(s) for s in m["per_step"]]
        label = mode.replace("_", " ")
        axes[0, 0].plot(steps, [row["latent_mse"] for row in m["per_step"].values()], marker=".", label=label)
        if has_psnr:
            axes[0, 1].plot(steps, [row.get("psnr_db", np.nan) for row in m["per_step"].values()], marker=".", label=label)
    axes[0, 0].set(xlabel="steps ahead", ylabel="latent MSE", title=f"{result['model']}: persistence")
    if has_psnr:
        axes[0, 1].set(xlabel="steps ahead", ylabel="PSNR (dB)", title="predicted vs real frame")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)
    return path
