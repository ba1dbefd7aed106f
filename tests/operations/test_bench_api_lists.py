"""`manage.py bench api_lists`: the main API list routes, called with API keys on a generated, closed
dataset, against a bare authenticated call, in a scratch database (tiny numbers; no assertion on
speed, only that the figures are real and the calls were the lists, filled from the data)."""

import pytest

from prm.accounts.models import ApiKey
from prm.operations.bench import SECTIONS, api_lists
from prm.operations.bench.api_lists import ROUTES, ApiListSizes, measure
from tests.operations.bench_support import assert_timings, run_section

TINY = ApiListSizes(partners=3, customers=8, dataset_events=800, requests=3, warmup=1)
BENCHES = [f"api_list_{route}_{role}_p{p}" for route in ROUTES for role in ("manager", "partner") for p in (50, 95)]


def test_api_lists_is_a_registered_section():
    assert SECTIONS["api_lists"] is api_lists.run


@pytest.mark.django_db
def test_each_list_route_is_measured_against_the_bare_call_with_api_keys():
    messages = []

    lines = measure(TINY, log=messages.append)

    assert_timings(lines, BENCHES)
    by_name = {line.bench: line for line in lines}
    for route in ROUTES:
        for role in ("manager", "partner"):
            assert by_name[f"api_list_{route}_{role}_p95"].value >= by_name[f"api_list_{route}_{role}_p50"].value
    # The calls went through two API keys made for the run, one per person.
    assert sorted(ApiKey.objects.values_list("name", flat=True)) == ["bench api manager", "bench api partner"]
    assert any("calling 4 routes as 2 people and the bare call 3 times" in message for message in messages)


@pytest.mark.django_db
def test_an_empty_list_stops_the_section_rather_than_timing_nothing(world):
    # Customers but no invoice yet: a first page of nothing would be a fast figure about no list.
    people = api_lists.People(
        manager=world.manager, partner_admin=world.admin_a, customer_admin=world.customer_user_a1, nobody=None
    )

    with pytest.raises(api_lists.BenchError, match=r"GET /api/v1/invoices/ \(invoices_manager\) listed nothing"):
        api_lists.call_times(people, requests=1, warmup=0)


@pytest.mark.django_db
def test_the_section_runs_in_a_scratch_database_that_it_drops(tmp_path):
    result = run_section("api_lists", tmp_path, timeout=600)
    assert [line["bench"] for line in result["lines"]] == BENCHES
    assert all(line["value"] > 0 and line["baseline"] > 0 and line["ratio"] > 0 for line in result["lines"])
