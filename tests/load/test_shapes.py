"""The locust shapes tick the profiles' user counts; checked in a subprocess (locust, gevent)."""

from __future__ import annotations

import json

from conformance.load.profiles import PROFILES, profile

from .conftest import run

SCRIPT = """
import json, sys, time
from types import SimpleNamespace
from conformance.load import shapes

out = {}
for name, cls in shapes.SHAPES.items():
    shape = cls(users=40, duration=100)
    ticks = []
    for elapsed in (0, 10, 30, 50, 70, 75, 81, 99, 100, 130):
        shape.start_time = time.perf_counter() - elapsed
        ticks.append(shape.tick())
    out[name] = ticks
selected = shapes.SelectedShape()
options = SimpleNamespace(
    egov_shape="working-day", num_users=40, run_time=100, egov_max_duration=""
)
selected.runner = SimpleNamespace(environment=SimpleNamespace(parsed_options=options))
selected.start_time = time.perf_counter() - 30
out["selected"] = [selected.tick()]
capped = shapes.SelectedShape()
options = SimpleNamespace(egov_shape="steady", num_users=5, run_time=500, egov_max_duration="60")
capped.runner = SimpleNamespace(environment=SimpleNamespace(parsed_options=options))
capped.start_time = time.perf_counter() - 61
out["capped"] = [capped.tick()]
json.dump(out, sys.stdout)
"""
MOMENTS = (0, 10, 30, 50, 70, 75, 81, 99, 100, 130)


def test_each_shape_ticks_its_profile_and_stops_at_the_duration() -> None:
    """``tick()`` of every LoadTestShape class over a 100-second run of 40 users."""
    done = run("-c", SCRIPT, timeout=60)
    assert done.returncode == 0, done.stderr
    ticks = json.loads(done.stdout)
    for name in PROFILES:
        expected = profile(name, 40, 100)
        # The shape reads its own clock a moment after the script set it: a hair later.
        for moment, tick in zip(MOMENTS, ticks[name], strict=True):
            if moment >= 100:
                assert tick is None, (name, moment)
            else:
                users, rate = tick
                assert users in (expected.users_at(moment), expected.users_at(moment + 0.05))
                assert rate == expected.spawn_rate
    working_day = profile("working-day", 40, 100)
    assert ticks["selected"] == [[working_day.users_at(30), working_day.spawn_rate]]
    assert ticks["capped"] == [None]  # a 500 s run capped at 60 s has ended at 61 s
