"""Every command's JSON output is strict JSON (issue 13, point 6).

``json.loads`` with a ``parse_constant`` hook that refuses ``NaN``, ``Infinity`` and
``-Infinity``: what jq, JavaScript and most JSON libraries accept. A value JSON cannot hold
is ``null`` with a ``<key>_reason`` field beside it.
"""

from __future__ import annotations

import pytest

from tests.cli._helpers import SEVEN_POINTS, cli, strict_loads

COMMANDS = [
    ["laws"],
    ["status", "done"],
    ["runs", "done"],
    ["runs", "done", "--state", "COMPLETE"],
    ["studies"],
    ["curve", "done"],
    ["curve", "done", "--cells"],
    ["analyze", "done"],
    ["predict", "done", "--data-size", "1e6"],
    ["predict", "done", "--data-size", "1e30"],
    ["predict", "done", "--data-size", "1e6", "--model-size", "4", "--eps0", "2"],
    ["plan", "done", "--target-error", "0.2"],
    ["plan", "done", "--target-error", "1e-9"],
    ["plan", "done", "--compute", "1e12", "--eps0", "2"],
    ["compare", "done", "done2"],
    ["fit", "seven.csv", "--x", "x", "--y", "y"],
    ["fit", "seven.csv", "--x", "x", "--y", "y", "--law", "power_floor"],
    ["fit", "seven.csv", "--x", "x", "--y", "y", "--law", "power_floor", "--bootstrap", "50"],
    ["run", "s.toml", "--workers", "0", "--no-progress"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) + ("..." if len(c) > 2 else "") for c in COMMANDS])
def test_json_output_is_strict(done_study, command):
    (done_study / "seven.csv").write_text(SEVEN_POINTS)
    out = cli(*command, "--format", "json", cwd=done_study)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    strict_loads(out.stdout)


