"""``scalinglab demo``: a small real scaling study, end to end, on this machine."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from scalinglab.cli import app

#: The demo study: MNIST-1D with an MLP whose width is the model-size knob, shards over
#: two orders of magnitude, Hestness's search. Sized to finish in minutes on 2 cores.
DEMO_SPEC = """\
# The study `scalinglab demo` runs (docs/spec.md has every field).
# Rerun it, or resume it after Ctrl-C, with:  scalinglab demo --out THIS_FOLDER
name = "demo-mnist1d"
task = "mnist1d"
metric = "val_error"          # top-1 validation error (random guess: 0.9)
eps0 = 0.9                    # random-guess error, for the saturating laws and the regions
seeds = 2

[data]                        # nested shards: 128, 256, ..., 32768 examples
min_shard_size = 128
max_shard_size = 32768
growth = 2.0
data_seed = 0

[model]
knob = "width"                # hidden units per layer of the MLP
sizes = [16, 32, 64, 128, 256]

[train]
model = "mlp"
depth = 2
optimizer = "adam"
lr = 0.003
batch_size = 128
epochs = 50                   # steps = clip(epochs * ceil(n / batch_size), min_steps, step_cap)
min_steps = 200
step_cap = 3000
n_evals = 25
patience = 6

[search]
method = "hestness"           # every width on the smallest and largest shard, Monte Carlo between
samples = 2
refine = true
seed = 0
"""


#: Best-fit model of a shard: the smallest width within 1% of the lowest error (Hestness's
#: "smallest model that fits the shard best"; smaller differences are seed noise).
DEMO_SIZE_TOLERANCE = 0.01


@app.command("demo")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("scalinglab-demo"),
              show_default=True, help="Folder for the spec, the database and the report; reused to resume.")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Worker processes [default: the cores].")
def demo_command(out: Path, workers: int | None) -> None:
    """Run a real MNIST-1D scaling study end to end: study, analysis, report, headline."""
    import tomllib

    from scalinglab.analysis import analyze
    from scalinglab.cli._analysis import headline_lines, run_budget_frame
    from scalinglab.report import write_report
    from scalinglab.storage import open_storage
    from scalinglab.study import StudySpec, run_study, study_curves

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
               f"({summary.elapsed_s:.0f} s)")
    store = open_storage(db)
    try:
        curves = study_curves(spec.name, store, size_tolerance=DEMO_SIZE_TOLERANCE)
        record = store.get_study(spec.name)
        runs = None if record is None else run_budget_frame(store, record.id, curves)
    finally:
        store.close()
    eps0 = tomllib.loads(spec_path.read_text()).get("eps0", 0.9)
    analysis = analyze(curves, eps0=float(eps0), level=0.9, runs=runs, size_tolerance=DEMO_SIZE_TOLERANCE)
    report = write_report(out / "report.html", analysis, spec.to_dict())
    click.echo("")
    for line in headline_lines(analysis):
        click.echo(line)
    click.echo("")
    click.echo(f"report: {report}   ({time.perf_counter() - start:.0f} s in all)")
    click.echo(f"more:   scalinglab analyze {spec.name} --storage {db} --size-tolerance {DEMO_SIZE_TOLERANCE}")
