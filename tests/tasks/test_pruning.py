"""Iterative magnitude pruning with rewinding in the torch workloads (mnist1d's prune_rounds)."""

from __future__ import annotations

import json
import math

import pytest

from scalinglab import InputError
from scalinglab.tasks import Trial

torch = pytest.importorskip("torch")
mnist1d = pytest.importorskip("scalinglab.tasks.mnist1d")
from scalinglab.tasks import _torch_common as common  # noqa: E402 - after the torch skip

# Short runs: the behaviour under test does not need converged models.
FAST = {"min_steps": 40, "step_cap": 120, "n_evals": 6, "validation_size": 1000}


def _model(width: int = 16) -> torch.nn.Module:
    common.seed_everything(0)
    return mnist1d._build_model("mlp", width, 2)


def _train_steps(model: torch.nn.Module, steps: int = 30) -> None:
    """A few Adam steps on random data: enough to move every weight off its initial value."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(64, 40, generator=generator)
    y = torch.randint(0, 10, (64,), generator=generator)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def test_rounds_keep_0_8_to_the_k_of_the_weights_rewound_and_zero_while_training() -> None:
    model = _model()
    initial = common.initial_weights(model)
    targets = common.prunable_weights(model)
    total = sum(m.weight.numel() for m, _ in targets)
    _train_steps(model)
    trained = torch.cat([m.weight.detach().abs().flatten() for m, _ in targets])
    seen: list[dict[str, float]] = []

    def retrain() -> dict[str, float]:
        k = len(seen) + 1
        masks = [m.weight_mask for m, _ in targets]
        kept = sum(int(mask.sum()) for mask in masks)
        # Rewound: every survivor (and every bias) is back at its initial value.
        for name, param in model.named_parameters():
            assert torch.equal(param.detach(), initial[name.removesuffix("_orig")]), name
        for module, _ in targets:
            assert torch.equal(module.weight, initial_weight(module) * module.weight_mask)
        if k == 1:
            # Global magnitude: every pruned weight was smaller than every kept one.
            mask = torch.cat([mm.flatten() for mm in masks]).bool()
            assert trained[~mask].max() <= trained[mask].min()
            per_layer = {round(float(mm.mean()), 3) for mm in masks}
            assert len(per_layer) > 1  # global, not the same fraction in each layer
        _train_steps(model)
        zeros = sum(int((m.weight == 0).sum()) for m, _ in targets)
        seen.append({"kept": kept, "zeros_after_training": zeros})
        return {"min_val_error": 0.5 + 0.01 * k, "steps": 30.0}

    name_of = {id(m): n for n, m in model.named_modules()}

    def initial_weight(module: torch.nn.Module) -> torch.Tensor:
        return initial[f"{name_of[id(module)]}.weight"]

    out = common.iterative_magnitude_pruning(model, initial, rounds=3, rate=0.2, retrain=retrain)
    assert out["prune_rounds"] == 3 and out["prune_weights"] == total
    for k in (1, 2, 3):
        assert abs(out[f"prune_density_{k}"] - 0.8**k) <= k / total
        assert out[f"prune_density_{k}"] == seen[k - 1]["kept"] / total
        # The masks hold while the model trains: the pruned weights are exactly zero.
        assert seen[k - 1]["zeros_after_training"] == total - seen[k - 1]["kept"]
        assert out[f"prune_min_val_error_{k}"] == pytest.approx(0.5 + 0.01 * k)
    # Biases are never pruned.
    assert not any(name.startswith("bias") for m, _ in targets for name, _ in m.named_buffers())


def test_should_stop_ends_pruning_and_bad_rates_are_refused() -> None:
    model = _model()
    initial = common.initial_weights(model)
    out = common.iterative_magnitude_pruning(
        model, initial, rounds=5, rate=0.2, retrain=lambda: {"min_val_error": 0.5},
        should_stop=lambda: True)
    assert out["prune_rounds"] == 0 and "prune_density_1" not in out
    for rate in (0.0, 1.0, 1.5):
        with pytest.raises(InputError, match="'prune_rate'"):
            common.iterative_magnitude_pruning(model, initial, rounds=1, rate=rate,
                                               retrain=lambda: {"min_val_error": 0.5})
    with pytest.raises(InputError, match="'prune_rounds'"):
        common.iterative_magnitude_pruning(model, initial, rounds=-1, rate=0.2,
                                           retrain=lambda: {"min_val_error": 0.5})


def test_mnist1d_prunes_and_keeps_the_dense_score() -> None:
    dense = Trial.standalone(shard_size=256, model_size=16, params=FAST)
    dense_metrics = mnist1d.train(dense)
    pruned = Trial.standalone(shard_size=256, model_size=16, params={**FAST, "prune_rounds": 2})
    metrics = mnist1d.train(pruned)
    # The engine scores the reported curve: it is the dense network's, report for report.
    assert [(r.step, r.val_error) for r in pruned.reports] == \
        [(r.step, r.val_error) for r in dense.reports]
    assert metrics["min_val_error"] == dense_metrics["min_val_error"] == pruned.min_val_error
    assert metrics["max_steps"] == dense_metrics["max_steps"]
    assert metrics["prune_rounds"] == 2
    assert metrics["prune_density_0"] == 1.0
    assert metrics["prune_min_val_error_0"] == metrics["min_val_error"]
    total = metrics["prune_weights"]
    assert total == 40 * 16 + 16 * 16 + 16 * 10
    for k in (1, 2):
        assert abs(metrics[f"prune_density_{k}"] - 0.8**k) <= k / total
        assert 0.0 <= metrics[f"prune_min_val_error_{k}"] <= 1.0
        assert metrics[f"prune_steps_{k}"] >= 1
    assert metrics["prune_train_time_s"] > 0
    assert "prune_density_0" not in dense_metrics


@pytest.mark.parametrize(("name", "value"), [("prune_rate", 1.0), ("prune_rate", 0),
                                             ("prune_rounds", -1), ("prune_rounds", 1.5)])
def test_mnist1d_refuses_bad_pruning_options(name: str, value: float) -> None:
    trial = Trial.standalone(shard_size=128, model_size=8, params={**FAST, name: value})
    with pytest.raises(InputError, match=f"'{name}'"):
        mnist1d.train(trial)


def test_pruning_metrics_round_trip_through_storage(tmp_path) -> None:
    from scalinglab.analysis import pruning_table
    from scalinglab.storage import RunState, open_storage
    from scalinglab.study import StudySpec, run_study

    spec = StudySpec.from_dict({
        "name": "prune", "task": "mnist1d", "seeds": 1,
        "data": {"shard_sizes": [128, 256], "validation_size": 1000},
        "model": {"sizes": [16]},
        "train": {k: v for k, v in {**FAST, "prune_rounds": 2}.items() if k != "validation_size"},
        "search": {"method": "grid"}, "budget": {"max_factor": 1},
    })
    summary = run_study(spec, storage=tmp_path / "p.db", workers=0, progress=False)
    assert summary.n_failed == 0
    storage = open_storage(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        record = storage.get_study("prune")
        runs = storage.get_runs(record.id, [RunState.COMPLETE])
        frame = storage.runs_frame(record.id)
    finally:
        storage.close()
    assert len(runs) == 2
    for run in runs:
        final = run.final_metrics
        assert final is not None
        json.dumps(final, allow_nan=False)
        assert run.score == final["prune_min_val_error_0"] == final["min_val_error"]
        assert all(isinstance(final[f"prune_density_{k}"], float) for k in (0, 1, 2))
        assert math.isclose(final["prune_density_1"], 0.8, abs_tol=1 / final["prune_weights"])
    table = pruning_table(frame)
    assert sorted(table["shard_size"].unique()) == [128, 256]
    assert list(table[table["shard_size"] == 128]["round"]) == [0, 1, 2]
    by_run = {r.shard_size: r.final_metrics for r in runs}
    for row in table.itertuples():
        assert row.error == by_run[row.shard_size][f"prune_min_val_error_{row.round}"]
        assert row.density == by_run[row.shard_size][f"prune_density_{row.round}"]
