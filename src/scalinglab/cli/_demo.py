"""``scalinglab demo``: a small real scaling study, end to end, on this machine."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from scalinglab.cli._app import app

#: The demo study: MNIST-1D with an MLP whose width is the model-size knob, shards over
#: nearly two orders of magnitude, Hestness's search with the learning rate tuned per shard,
#: budgets extended until the best fits converged, and widths added beyond the initial grid
#: until every best fit is interior. Sized to finish in minutes on 2 cores.
DEMO_SPEC = """\
# The study `scalinglab demo` runs (docs/spec.md has every field).
# Rerun it, or resume it after Ctrl-C, with:  scalinglab demo --out THIS_FOLDER
name = "demo-mnist1d"
task = "mnist1d"
metric = "val_error"          # top-1 validation error (random guess: 0.9)
eps0 = 0.9                    # random-guess error, for the saturating laws and the regions
seeds = 2

[data]                        # nested shards: 128, 256, ..., 4096 examples
min_shard_size = 128
max_shard_size = 4096
growth = 2.0
data_seed = 0

[model]
knob = "width"                # hidden units per layer of the MLP
sizes = [16, 32, 64, 128]
min_size = 8                  # the search may add widths 8 and 256 when a best fit is at an
max_size = 256                # edge of the widths tried (wider still helps on the largest
                              # shards; the demo stops at 256 and says so: README, "The demo")
size_tolerance = 0.01         # best fit = the smallest width within 1% of the shard's lowest
                              # error (Hestness: the smallest model that fits best)

[train]
model = "mlp"
depth = 2
optimizer = "adam"
batch_size = 128
epochs = 40                   # steps = budget * clip(epochs * ceil(n / batch), min_steps, step_cap)
min_steps = 200
step_cap = 4000
n_evals = 20
patience = 4                  # evaluations without a new minimum before stopping

[search]
method = "hestness"           # every width on the smallest and largest shard, Monte Carlo between
samples = 2
refine = true
seed = 0
param_samples = 3             # learning rates tried per (shard, width), quasi-random (Halton)

[search.params]
lr = { log = [0.002, 0.03] }

[budget]
max_factor = 4                # a budget-limited cell is rerun with 2x, then 4x the steps
tail = 0.2                    # ... when its best step is in the last 20% of its steps
margin = 0.05                 # ... and its error is within 5% of the shard's best
"""


def best_fit_lines(curves: Any) -> list[str]:
    """One line per shard: best-fit width, tuned values, budget factor and status."""
    lines: list[str] = []
    for row in curves.to_frame().to_dict("records"):
        params = curves.best_params[len(lines)]
        tuned = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in params.items())
        state = "budget-limited" if row["budget_limited"] else "converged"
        lines.append(f"shard {row['shard_size']:>6}: width {row['best_model_size']:g} "
                     f"{tuned} budget {row['budget']:g}x, {state}, size {row['size_status']}, "
                     f"error {row['median_min_val_error']:.4f}")
    return lines


@app.command("demo")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("scalinglab-demo"),
              show_default=True, help="Folder for the spec, the database and the report; reused to resume.")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Worker processes [default: the cores].")
def demo_command(out: Path, workers: int | None) -> None:
    """Run a real MNIST-1D scaling study end to end: study, analysis, report, headline."""
    from scalinglab.cli._analysis import headline_lines
    from scalinglab.report import write_report
    from scalinglab.storage import open_storage
    from scalinglab.study import StudySpec, analyze_study, run_study, study_curves

    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    spec_path = out / "demo.toml"
    if not spec_path.exists():
        spec_path.write_text(DEMO_SPEC, encoding="utf-8")
    spec = StudySpec.from_toml(spec_path)
    db = out / "demo.db"
    resumed = db.exists()
    click.echo(f"scalinglab demo: {'resuming' if resumed else 'running'} study {spec.name!r} in {out}/ "
               f"(MNIST-1D MLP, shards {spec.data.shard_sizes[0]}..{spec.data.shard_sizes[-1]}, "
               f"widths {list(spec.model.sizes)}, {len(spec.seeds)} seeds, {spec.search.method} search)")
    summary = run_study(spec, storage=db, workers=workers, progress=True)
    if summary.interrupted:
        click.echo(f"Stopped after {summary.n_complete} runs. Resume with: scalinglab demo --out {out}", err=True)
        sys.exit(130)
    click.echo(f"study done: {summary.n_complete} runs complete, {summary.n_failed} failed "
               f"({summary.elapsed_s:.0f} s); {summary.n_extended} runs reran budget-limited "
               f"cells with more steps, {summary.n_grown} tried widths beyond the initial grid")
    store = open_storage(db)
    try:
        curves = study_curves(spec.name, store)
        # eps0: the spec's (0.9, random guess over 10 classes), else the task's: the same
        # precedence as 'scalinglab analyze', so the two print the same numbers.
        analysis = analyze_study(spec.name, store, level=0.9)
    finally:
        store.close()
    for line in best_fit_lines(curves):
        click.echo(line)
    for line in summary.limits:
        click.echo(f"limit: {line}")
    report = write_report(out / "report.html", analysis, spec.to_dict())
    click.echo("")
    for line in headline_lines(analysis):
        click.echo(line)
    click.echo("")
    click.echo(f"report: {report}   ({time.perf_counter() - start:.0f} s in all)")
    click.echo(f"more:   scalinglab analyze {spec.name} --storage {db}")
