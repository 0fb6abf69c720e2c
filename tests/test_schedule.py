"""schedule.place: the earliest finish at each instance's speed, with the fewest moves."""

from __future__ import annotations

import random

import pytest

from distro.balance import balance
from distro.schedule import Unit, lower_bound, place
from distro.tally import CustomerLoad


def units_at(homes: dict[int, list[int]]) -> list[Unit]:
    return [
        Unit(f"c{home}-{n}", size, home)
        for home, sizes in homes.items()
        for n, size in enumerate(sizes)
    ]


def test_a_balanced_plan_that_no_move_can_shorten_moves_no_one() -> None:
    units = units_at({0: [50, 30, 20], 1: [40, 40, 20], 2: [60, 40]})
    placement = place(units, speeds=[1.0] * 3, pinned=[0] * 3)
    assert placement.moves == 0
    assert placement.loads == (100, 100, 100)


def test_an_added_instance_takes_only_what_shortens_the_finish() -> None:
    # 3 instances of 100 in units of 10; a fourth brings the best finish to 80 (units of 10).
    units = units_at({i: [10] * 10 for i in range(3)})
    placement = place(units, speeds=[1.0] * 4, pinned=[0] * 4)
    assert placement.finish == 80
    assert placement.moves == 6  # 2 from each: no fewer reaches 80
    assert placement.loads == (80, 80, 80, 60)


def test_the_slow_instance_gets_less_and_the_finish_meets_the_bound() -> None:
    units = [Unit(f"c{n}", 10) for n in range(30)]
    speeds = [1.0, 1.0, 0.5]
    placement = place(units, speeds=speeds, pinned=[0] * 3)
    assert placement.loads == (120, 120, 60)
    assert placement.finish == 120
    assert lower_bound(units, speeds=speeds, pinned=[0] * 3) == 120


def test_pinned_work_counts_and_a_closed_instance_takes_nothing() -> None:
    units = units_at({2: [30, 30, 20]})  # all on instance 3, which is dropped
    placement = place(units, speeds=[1.0] * 3, pinned=[40, 0, 10], closed={2})
    assert placement.where.count(2) == 0
    assert placement.loads == (60, 60, 10)
    assert placement.moves == 3


def test_a_unit_whose_home_is_gone_moves_even_when_nothing_is_gained() -> None:
    units = [Unit("a", 10, 0), Unit("b", 10, None)]
    placement = place(units, speeds=[1.0, 1.0], pinned=[0, 0])
    assert placement.where == (0, 1)
    assert placement.moves == 1


@pytest.mark.parametrize("seed", range(8))
def test_at_equal_speeds_the_finish_is_the_balancers_within_one_percent(seed: int) -> None:
    rng = random.Random(seed)
    instances = rng.choice([2, 3, 5, 10])
    sizes = [int(rng.paretovariate(1.1) * 100) for _ in range(rng.choice([20, 200]))]
    units = [Unit(f"c{n}", size, rng.randrange(instances)) for n, size in enumerate(sizes)]
    placement = place(units, speeds=[1.0] * instances, pinned=[0] * instances)
    today = balance([CustomerLoad(u.name, u.uploads, 1) for u in units], instances)
    assert placement.finish <= today.makespan * 1.01
    assert len(placement.where) == len(units)
    assert sum(placement.loads) == sum(sizes)


def test_speeds_must_be_above_zero() -> None:
    with pytest.raises(ValueError, match="speed above 0"):
        place([Unit("a", 1)], speeds=[0.0], pinned=[0])
