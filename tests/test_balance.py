"""The balancer: hand-computed plans, then properties over random customer lists."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, given, settings, strategies as st

from distro.balance import (
    CustomerLoad,
    InstancePlan,
    Plan,
    balance,
    greedy,
    order,
    refine,
)


def load(customer: str, uploads: int, spaces: int = 1) -> CustomerLoad:
    return CustomerLoad(customer, uploads, spaces)


def assignment(plan: Plan) -> list[tuple[int, list[str]]]:
    return [(i.instance_id, [c.customer for c in i.customers]) for i in plan.instances]


# --- order ---------------------------------------------------------------------------------


def test_order_sorts_by_uploads_descending_then_by_did() -> None:
    customers = [load("did:c", 5), load("did:a", 1), load("did:d", 5), load("did:b", 10)]
    assert [c.customer for c in order(customers)] == ["did:b", "did:c", "did:d", "did:a"]


def test_order_ties_use_plain_string_order_of_the_did() -> None:
    customers = [load("did:mailto:b.org:x", 3), load("did:mailto:a.org:z", 3), load("Z", 3)]
    assert [c.customer for c in order(customers)] == [
        "Z",
        "did:mailto:a.org:z",
        "did:mailto:b.org:x",
    ]


# --- hand-computed plans -------------------------------------------------------------------


def test_greedy_gives_each_customer_to_the_least_loaded_instance() -> None:
    # order: a10, b7, c5, d5, e1
    # a -> 1 (10, 0); b -> 2 (10, 7); c -> 2 (10, 12); d -> 1 (15, 12); e -> 2 (15, 13)
    customers = [
        load("did:e", 1, 1),
        load("did:d", 5, 2),
        load("did:c", 5, 3),
        load("did:b", 7, 4),
        load("did:a", 10, 5),
    ]
    plan = balance(customers, 2)
    assert assignment(plan) == [(1, ["did:a", "did:d"]), (2, ["did:b", "did:c", "did:e"])]
    assert [i.uploads for i in plan.instances] == [15, 13]
    assert [i.spaces for i in plan.instances] == [7, 8]
    assert plan.total_uploads == 28
    assert plan.largest == load("did:a", 10, 5)
    assert plan.makespan == 15
    assert plan.fair_share == 14.0
    assert plan.lower_bound == 14.0
    assert plan.gap == pytest.approx(1 / 14, abs=1e-12)
    assert plan.whale is None


def test_equal_loads_go_to_the_lower_instance_number() -> None:
    # x -> 1 (4, 0); y -> 2 (4, 2); z -> 2 (4, 4); w: both at 4, so instance 1
    plan = balance([load("did:w", 1), load("did:z", 2), load("did:y", 2), load("did:x", 4)], 2)
    assert assignment(plan) == [(1, ["did:x", "did:w"]), (2, ["did:y", "did:z"])]
    assert [i.uploads for i in plan.instances] == [5, 4]


def test_first_customers_fill_empty_instances_in_order() -> None:
    plan = balance([load("did:b", 5), load("did:a", 5), load("did:c", 5)], 4)
    assert assignment(plan) == [(1, ["did:a"]), (2, ["did:b"]), (3, ["did:c"]), (4, [])]


def test_customers_without_uploads_all_tie_at_the_lowest_instance() -> None:
    plan = balance([load("did:b", 0, 0), load("did:a", 0, 0), load("did:c", 0, 0)], 2)
    assert assignment(plan) == [(1, ["did:a", "did:b", "did:c"]), (2, [])]
    assert plan.makespan == 0
    assert plan.lower_bound == 0.0
    assert plan.gap == 0.0
    assert plan.whale is None


def test_instance_ids_start_at_one_and_are_consecutive() -> None:
    plan = balance([load(f"did:{n}", n) for n in range(7)], 5)
    assert [i.instance_id for i in plan.instances] == [1, 2, 3, 4, 5]


def test_more_instances_than_customers_leaves_empty_instances() -> None:
    plan = balance([load("did:a", 3, 2), load("did:b", 9, 4)], 4)
    assert plan.instances == (
        InstancePlan(1, (load("did:b", 9, 4),)),
        InstancePlan(2, (load("did:a", 3, 2),)),
        InstancePlan(3, ()),
        InstancePlan(4, ()),
    )
    assert [i.uploads for i in plan.instances] == [9, 3, 0, 0]
    assert [i.spaces for i in plan.instances] == [4, 2, 0, 0]
    assert plan.fair_share == 3.0
    assert plan.lower_bound == 9
    assert plan.gap == 0.0
    assert plan.whale == load("did:b", 9, 4)


def test_zero_customers() -> None:
    plan = balance([], 3)
    assert plan.instances == (InstancePlan(1, ()), InstancePlan(2, ()), InstancePlan(3, ()))
    assert plan.total_uploads == 0
    assert plan.largest is None
    assert plan.makespan == 0
    assert plan.fair_share == 0.0
    assert plan.lower_bound == 0
    assert plan.gap == 0.0
    assert plan.whale is None


def test_a_generator_of_customers_is_read_once_and_fully() -> None:
    plan = balance((load(f"did:{n}", n) for n in (1, 2, 3)), 2)
    assert assignment(plan) == [(1, ["did:3"]), (2, ["did:2", "did:1"])]
    assert plan.total_uploads == 6


@pytest.mark.parametrize("instances", [0, -1])
def test_fewer_than_one_instance_is_refused(instances: int) -> None:
    with pytest.raises(ValueError, match=r"^instances must be at least 1$"):
        balance([load("did:a", 1)], instances)


# --- lower bound, gap, whale ---------------------------------------------------------------


def test_lower_bound_is_the_fair_share_when_no_customer_exceeds_it() -> None:
    plan = balance([load("did:a", 6), load("did:b", 5), load("did:c", 4), load("did:d", 3)], 3)
    # a -> 1 (6); b -> 2 (5); c -> 3 (4); d -> 3 (7)
    assert assignment(plan) == [(1, ["did:a"]), (2, ["did:b"]), (3, ["did:c", "did:d"])]
    assert plan.total_uploads == 18
    assert plan.fair_share == 6.0
    assert plan.lower_bound == 6.0
    assert plan.makespan == 7
    assert plan.gap == pytest.approx(1 / 6, abs=1e-12)
    assert plan.whale is None


def test_lower_bound_is_the_largest_customer_when_it_exceeds_the_fair_share() -> None:
    big = load("did:big", 100, 40)
    plan = balance([load("did:s1", 10), big, load("did:s2", 10)], 3)
    assert assignment(plan) == [(1, ["did:big"]), (2, ["did:s1"]), (3, ["did:s2"])]
    assert plan.fair_share == 40.0
    assert plan.lower_bound == 100
    assert plan.makespan == 100
    assert plan.gap == 0.0
    assert plan.whale == big


def test_gap_measures_the_distance_from_the_lower_bound() -> None:
    # a -> 1 (5); b -> 2 (4); c -> 2 (7): makespan 7, bound max(12/2, 5) = 6
    plan = balance([load("did:a", 5), load("did:b", 4), load("did:c", 3)], 2)
    assert assignment(plan) == [(1, ["did:a"]), (2, ["did:b", "did:c"])]
    assert plan.lower_bound == 6.0
    assert plan.gap == pytest.approx(1 / 6, abs=1e-12)


def test_no_whale_when_the_largest_customer_equals_the_fair_share() -> None:
    plan = balance([load("did:a", 5), load("did:b", 5)], 2)
    assert plan.fair_share == 5.0
    assert plan.largest == load("did:a", 5)
    assert plan.whale is None
    assert plan.gap == 0.0


def test_no_whale_with_a_single_instance() -> None:
    plan = balance([load("did:a", 50), load("did:b", 1)], 1)
    assert assignment(plan) == [(1, ["did:a", "did:b"])]
    assert plan.makespan == 51
    assert plan.lower_bound == 51.0
    assert plan.whale is None


def test_whale_just_above_the_fair_share() -> None:
    # total 31 over 3 instances: fair share 10.33..., largest 11 exceeds it
    plan = balance([load("did:a", 11), load("did:b", 10), load("did:c", 10)], 3)
    assert plan.whale == load("did:a", 11)
    assert plan.lower_bound == 11


# --- properties ----------------------------------------------------------------------------

heavy_tail = st.integers(0, 7).flatmap(lambda exponent: st.integers(0, 10**exponent))
dids = st.text(alphabet="abcxyz:.0", min_size=1, max_size=6).map(lambda s: "did:mailto:" + s)
customer_lists = st.lists(
    st.builds(CustomerLoad, customer=dids, uploads=heavy_tail, spaces=st.integers(0, 5000)),
    max_size=80,
    unique_by=lambda c: c.customer,
)
instance_counts = st.integers(1, 50)


def linear_greedy(customers: list[CustomerLoad], instances: int) -> list[list[CustomerLoad]]:
    """The same greedy without a heap: scan the loads for the least, ties to the lowest index."""
    ordered = sorted(customers, key=lambda c: (-c.uploads, c.customer))
    loads = [0] * instances
    assigned: list[list[CustomerLoad]] = [[] for _ in range(instances)]
    for customer in ordered:
        best = 0
        for index in range(1, instances):
            if loads[index] < loads[best]:
                best = index
        assigned[best].append(customer)
        loads[best] += customer.uploads
    return assigned


@settings(deadline=None)
@given(customers=customer_lists, instances=instance_counts)
def test_every_customer_is_in_exactly_one_instance(
    customers: list[CustomerLoad], instances: int
) -> None:
    plan = balance(customers, instances)
    placed = [c for i in plan.instances for c in i.customers]
    assert sorted(placed, key=lambda c: c.customer) == sorted(customers, key=lambda c: c.customer)
    assert len(plan.instances) == instances
    assert [i.instance_id for i in plan.instances] == list(range(1, instances + 1))


@settings(deadline=None)
@given(customers=customer_lists, instances=instance_counts)
def test_instance_totals_add_up(customers: list[CustomerLoad], instances: int) -> None:
    plan = balance(customers, instances)
    total = sum(c.uploads for c in customers)
    assert plan.total_uploads == total
    assert sum(i.uploads for i in plan.instances) == total
    assert sum(i.spaces for i in plan.instances) == sum(c.spaces for c in customers)
    assert plan.largest == (order(customers)[0] if customers else None)


@settings(deadline=None)
@given(customers=customer_lists, instances=instance_counts)
def test_makespan_respects_grahams_bound(customers: list[CustomerLoad], instances: int) -> None:
    plan = balance(customers, instances)
    total = sum(c.uploads for c in customers)
    largest = max((c.uploads for c in customers), default=0)
    # makespan <= total / N + (1 - 1/N) * largest, multiplied through by N to stay exact
    assert plan.makespan * instances <= total + (instances - 1) * largest
    assert plan.makespan <= 2 * plan.lower_bound
    assert plan.makespan >= plan.lower_bound
    assert plan.gap >= 0.0


@settings(deadline=None)
@given(
    customers=customer_lists,
    instances=instance_counts,
    rng=st.randoms(use_true_random=False),
)
def test_the_plan_does_not_depend_on_input_order(
    customers: list[CustomerLoad], instances: int, rng: random.Random
) -> None:
    shuffled = list(customers)
    rng.shuffle(shuffled)
    assert balance(shuffled, instances) == balance(customers, instances)


@settings(deadline=None)
@given(
    customers=customer_lists.flatmap(lambda cs: st.tuples(st.just(cs), st.permutations(cs))),
    instances=instance_counts,
)
def test_the_plan_is_the_same_for_any_permutation(
    customers: tuple[list[CustomerLoad], list[CustomerLoad]], instances: int
) -> None:
    original, permuted = customers
    assert balance(permuted, instances) == balance(original, instances)


@settings(deadline=None)
@given(customers=customer_lists, instances=instance_counts)
def test_heap_greedy_equals_linear_scan_greedy(
    customers: list[CustomerLoad], instances: int
) -> None:
    plan = greedy(customers, instances)
    expected = linear_greedy(customers, instances)
    assert [list(i.customers) for i in plan.instances] == expected


@settings(deadline=None)
@given(
    uploads=st.lists(st.integers(0, 3), max_size=40),
    instances=st.integers(1, 6),
)
def test_heap_greedy_equals_linear_scan_greedy_with_many_ties(
    uploads: list[int], instances: int
) -> None:
    customers = [load(f"did:{n:03d}", u) for n, u in enumerate(uploads)]
    plan = greedy(customers, instances)
    assert [list(i.customers) for i in plan.instances] == linear_greedy(customers, instances)


# --- the refinement ------------------------------------------------------------------------


def test_a_swap_fixes_what_greedy_leaves() -> None:
    # greedy: a5 -> 1; b4 -> 2; c3 -> 2 (7); d3 -> 1 (8); e3 -> 2 (10): makespan 10
    # refine: busiest 2 [b4, c3, e3], lightest 1 [a5, d3], difference 2: swap b4 for d3
    customers = [load("did:a", 5), load("did:b", 4), load("did:c", 3), load("did:d", 3)]
    customers.append(load("did:e", 3))
    assert assignment(greedy(customers, 2)) == [
        (1, ["did:a", "did:d"]),
        (2, ["did:b", "did:c", "did:e"]),
    ]
    plan = balance(customers, 2)
    assert assignment(plan) == [(1, ["did:a", "did:b"]), (2, ["did:c", "did:d", "did:e"])]
    assert [i.uploads for i in plan.instances] == [9, 9]
    assert plan.gap == 0.0


@pytest.mark.parametrize("instances", [2, 3, 5, 8, 13])
def test_grahams_worst_case_for_greedy_is_solved(instances: int) -> None:
    # Two jobs of each size 2N-1 .. N+1 and three of N: greedy ends at 4N-1, the optimum is 3N.
    sizes = [s for s in range(2 * instances - 1, instances, -1) for _ in (1, 2)]
    customers = [load(f"did:{n:03d}", s) for n, s in enumerate([*sizes, *[instances] * 3])]
    assert greedy(customers, instances).makespan == 4 * instances - 1
    plan = balance(customers, instances)
    assert plan.makespan == 3 * instances
    assert plan.lower_bound == 3 * instances
    assert sorted(c.customer for i in plan.instances for c in i.customers) == sorted(
        c.customer for c in customers
    )


def test_refine_moves_the_unit_nearest_half_the_difference() -> None:
    # busiest [a5, b1] = 6, lightest [] = 0: 5 and 1 are as far from 3; the smaller moves
    plan = Plan(
        (InstancePlan(1, (load("did:a", 5), load("did:b", 1))), InstancePlan(2, ())), 6, None
    )
    refined = refine(plan)
    assert assignment(refined) == [(1, ["did:a"]), (2, ["did:b"])]
    assert [i.uploads for i in refined.instances] == [5, 1]
    assert refined.total_uploads == 6


def test_among_equal_units_the_greatest_dids_move() -> None:
    units = (load("did:x", 3, 1), load("did:y", 3, 2), load("did:z", 3, 4))
    plan = refine(Plan((InstancePlan(1, units), InstancePlan(2, ())), 9, None))
    assert assignment(plan) == [(1, ["did:x", "did:y"]), (2, ["did:z"])]
    assert [(i.uploads, i.spaces) for i in plan.instances] == [(6, 3), (3, 4)]


def test_the_units_given_go_in_did_order_to_the_lower_instances_first() -> None:
    # busiest 1 gives a 2 to instance 2, then a 2 to instance 3: the lower DID goes to 2
    heavy = (load("did:a", 2), load("did:b", 2), load("did:c", 2), load("did:d", 2))
    plan = refine(Plan((InstancePlan(1, heavy), InstancePlan(2, ()), InstancePlan(3, ())), 8, None))
    assert assignment(plan) == [(1, ["did:a", "did:b"]), (2, ["did:c"]), (3, ["did:d"])]


def test_refine_returns_an_optimal_plan_unchanged() -> None:
    plan = greedy([load("did:a", 4), load("did:b", 2), load("did:c", 2)], 2)
    assert refine(plan) is plan


def test_refine_with_no_steps_is_the_greedy_plan() -> None:
    customers = [load("did:a", 5), load("did:b", 4), load("did:c", 3), load("did:d", 3)]
    customers.append(load("did:e", 3))
    assert refine(greedy(customers, 2), max_steps=0) == greedy(customers, 2)


def test_greedy_refuses_fewer_than_one_instance() -> None:
    with pytest.raises(ValueError, match=r"^instances must be at least 1$"):
        greedy([load("did:a", 1)], 0)


def test_instance_totals_are_summed_unless_given() -> None:
    units = (load("did:a", 5, 2), load("did:b", 1, 1))
    assert (InstancePlan(1, units).uploads, InstancePlan(1, units).spaces) == (6, 3)
    given = InstancePlan(1, units, uploads=6, spaces=3)
    assert given == InstancePlan(1, units)


# --- saturation: where more instances stop helping -----------------------------------------


def test_saturation_is_total_over_largest_rounded_up() -> None:
    big = load("did:big", 100, 40)
    plan = balance([load("did:s1", 10), big, load("did:s2", 10)], 3)
    assert plan.whale == big
    assert plan.saturation == 2  # ceil(120 / 100): from 2 instances on, the bound is 100
    assert balance([big, load("did:s1", 10), load("did:s2", 10)], 2).lower_bound == 100
    assert balance([big, load("did:s1", 10), load("did:s2", 10)], 1).lower_bound == 120


def test_saturation_of_an_exact_multiple() -> None:
    plan = balance([load("did:a", 5), load("did:b", 5), load("did:c", 5)], 5)
    assert plan.saturation == 3


def test_saturation_without_uploads_is_zero() -> None:
    assert balance([], 3).saturation == 0
    assert balance([load("did:a", 0)], 3).saturation == 0


# --- properties of the refined plan ----------------------------------------------------------


@settings(deadline=None)
@given(customers=customer_lists, instances=instance_counts)
def test_the_refined_plan_is_never_worse_than_greedy(
    customers: list[CustomerLoad], instances: int
) -> None:
    first, refined = greedy(customers, instances), balance(customers, instances)
    assert refined.makespan <= first.makespan
    if refined.makespan == first.makespan:
        at_makespan = [i.uploads for i in refined.instances].count(refined.makespan)
        assert at_makespan <= [i.uploads for i in first.instances].count(first.makespan)
    assert refined.total_uploads == first.total_uploads
    assert refined.largest == first.largest


@settings(deadline=None)
@given(customers=customer_lists, instances=instance_counts)
def test_no_single_move_or_swap_relieves_the_busiest_instance(
    customers: list[CustomerLoad], instances: int
) -> None:
    """The refinement stops at a local optimum (inputs this small never reach its caps)."""
    plan = balance(customers, instances)
    loads = [i.uploads for i in plan.instances]
    busiest = plan.instances[loads.index(max(loads))]
    outs = {c.uploads for c in busiest.customers if c.uploads}
    for other in plan.instances:
        difference = busiest.uploads - other.uploads
        assert not [u for u in outs if u < difference]  # a move
        backs = {c.uploads for c in other.customers if c.uploads}
        assert not [(a, b) for a in outs for b in backs if 0 < a - b < difference]  # a swap


def fine_grained(instances: int, largest: int) -> list[int]:
    """Customers of 1..f uploads holding (instances - 1) x *largest* together, f = that / 1000N.

    Each holds at most 0.1% of any fair share the list is part of, since the
    fair share is at least their total / N.
    """
    need = (instances - 1) * largest
    finest = max(1, need // (1000 * instances))
    sizes = [1 + n % finest for n in range(2 * need // (finest + 1) + finest + 1)]
    assert sum(sizes) >= need
    return sizes


@settings(deadline=None, max_examples=50)
@given(big=st.lists(heavy_tail, min_size=1, max_size=120), instances=st.integers(2, 8))
def test_within_a_thousandth_of_the_bound_when_it_is_reachable(
    big: list[int], instances: int
) -> None:
    """Heavy-tailed customers, plus fine-grained ones that make the bound reachable.

    The fine customers hold at most 0.1% of the fair share each, and together at
    least (N - 1) x the largest customer: then a plan within 0.1% of the lower
    bound exists (fill every instance up to the busiest with them), so the
    balancer must find one. Such inputs have far more than 50 customers per
    instance; below that, or with coarse customers only, 0.1% is often out of
    reach for any plan.
    """
    sizes = [*big, *fine_grained(instances, max(big))]
    customers = [load(f"did:mailto:c{n:06d}", s) for n, s in enumerate(sizes)]
    assume(sum(sizes) >= 1000 * instances)  # a fair share of at least 1000 uploads
    assert len(customers) >= 50 * instances
    plan = balance(customers, instances)
    assert plan.whale is None
    assert plan.gap <= 0.001
