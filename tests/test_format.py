"""The one level formatter every output uses."""

from scalinglab._format import level_percent


def test_a_level_prints_as_the_percent_the_user_asked_for() -> None:
    # int(0.58 * 100) is 57: the formatter must not truncate.
    assert [level_percent(x) for x in (0.9, 0.58, 0.95, 0.999, 0.5)] == ["90", "58", "95", "99.9", "50"]
