"""A stored study with hostile text in every field, for the report's escaping tests.

Shared by ``test_report.py`` (the real page in a headless browser) and ``test_report_page.py``
(the page's text, with the figures drawn blank).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from scalinglab.analysis import StudyAnalysis, analyze
from scalinglab.laws import Joint, Law
from scalinglab.study import StudySpec
from tests.analysis.stored import store_study

# A payload that changes the page if it is ever parsed as markup: a script and an image whose
# error handler both retitle the document, and a tag that would start bold text.
PAYLOAD = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"><b>"
ESCAPED = "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;"

#: The spec's fields that reach the page, each with the payload.
SPEC_FIELDS: dict[str, Any] = {
    "name": f"s{PAYLOAD}", "description": f"d{PAYLOAD}", "metric": f"m{PAYLOAD}",
    "task": f"evil{PAYLOAD}.module:function", "model": {"knob": f"k{PAYLOAD}", "sizes": [8, 16]},
    "train": {f"key{PAYLOAD}": f"value{PAYLOAD}", "notes": f"note{PAYLOAD}"},
}


def poison(obj: Any, seen: set[int]) -> Any:
    """A copy-in-place of ``obj`` with PAYLOAD prefixed to every string it holds.

    Walks dataclasses (frozen or not), tuples, lists, dict values, fit selections and the law
    objects (formula, name, parameter names), so a field added later is poisoned too.
    """
    if isinstance(obj, str):
        return PAYLOAD + obj
    if id(obj) in seen or isinstance(obj, np.ndarray | float | int | bool) or obj is None:
        return obj
    seen.add(id(obj))
    if isinstance(obj, Law):
        obj.formula = PAYLOAD + obj.formula
        obj.name = PAYLOAD + obj.name
        obj.params = tuple(dataclasses.replace(p, name=PAYLOAD + p.name) for p in obj.params)
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name == "observed" and isinstance(value, dict):  # keys are looked up: keep them
                new = value
            elif f.name == "fits" and isinstance(value, dict):  # keys are shown: poison them too
                new = {poison(k, seen): poison(v, seen) for k, v in value.items()}
            else:
                new = poison(value, seen)
            object.__setattr__(obj, f.name, new)
        return obj
    if isinstance(obj, tuple | list):
        return type(obj)(poison(v, seen) for v in obj)
    if isinstance(obj, dict):
        return {k: poison(v, seen) for k, v in obj.items()}
    return obj


def hostile_study(folder: Path) -> StudyAnalysis:
    """The analysis of a stored 10 x 4 joint-law study named, measured and failing with PAYLOAD.

    Through storage: the study name, the metric and a failed run's error come from the database.
    """
    law = Joint(eps0=0.9)
    truth = [0.5, 3.0, 0.6, 0.01, 0.2]
    curves = store_study(
        folder / "s.db", SPEC_FIELDS["name"],
        np.round(64 * 2.0 ** np.arange(10)), np.array([8, 16, 32, 64.0]),
        lambda n, s: float(law.predict(np.array([[n, 100 * s]]), truth)[0]),
        n_params=lambda s: 100 * s, spec_extra={"metric": SPEC_FIELDS["metric"]},
        failure=f"Traceback: boom{PAYLOAD}",
    )
    assert curves.metric == SPEC_FIELDS["metric"]
    return analyze(curves, eps0=0.9)


@functools.cache
def hostile_analysis() -> StudyAnalysis:
    """:func:`hostile_study` once per process (its database is removed once it is read).

    The report's tests only read the analysis (``poisoned`` and ``dataclasses.replace`` copy
    it), so every test and every mutant run forked from a process that built it share it.
    """
    with tempfile.TemporaryDirectory(prefix="hostile-study-") as folder:
        return hostile_study(Path(folder))


def poisoned(analysis: StudyAnalysis) -> tuple[StudyAnalysis, dict[str, Any]]:
    """A copy of ``analysis`` with PAYLOAD in every string it holds, and a spec with it too.

    Every string the analysis holds (notes, rules, law names and formulas, messages,
    selections) gets the payload, and one fit is marked unconverged so its message shows.
    """
    bad = poison(copy.deepcopy(analysis), set())
    lc = bad.learning_curve
    object.__setattr__(lc, "fit", dataclasses.replace(lc.fit, converged=False))
    spec = StudySpec.from_dict({
        "name": "plain", "task": "synthetic", "data": {"min_shard_size": 64, "max_shard_size": 1024},
        "model": {"sizes": [8, 16]},
    }).to_dict()
    spec.update(SPEC_FIELDS)
    return bad, spec
