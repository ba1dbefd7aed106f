"""Plan and commitment recommendations (prm/billing/recommendations.py): the figures worked out by
hand, the threshold, idempotency, superseding, dismissing, scope, the pages, the API and the cards.

Every customer here is billed August, September and October 2026 from usage sent through ingestion;
the months are closed and the invoices finalized by billing's own services, then the refresh runs.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prm.billing.models import Invoice, Recommendation
from prm.billing.recommendations import recommendations_refresh
from prm.billing.services import credit_note_create, invoice_draft_ensure, invoice_finalize
from prm.core.periods import BillingPeriod
from prm.customers.models import ContractPolicy, PlanChoice
from prm.customers.services import subscription_change_plan
from prm.notifications.models import Notification
from prm.plans.services import plan_create, plan_update
from tests import factories
from tests.billing.conftest import OCTOBER, close

pytestmark = pytest.mark.django_db

AUGUST, SEPTEMBER = BillingPeriod(2026, 8), BillingPeriod(2026, 9)
MONTHS = (AUGUST, SEPTEMBER, OCTOBER)
# API calls sent in August, September and October.
CALLS = (20_000, 25_000, 10_000)
KIND = "billing.recommendation"


def _time(period: BillingPeriod, day: int = 10) -> str:
    return period.start.replace(day=day, hour=10).isoformat()


@pytest.fixture
def on(subscribe):
    """on(plan, …): a subscription of A1 (by default) from the start of August."""

    def _on(plan, **fields):
        return subscribe(plan, **{"started_at": AUGUST.start, **fields})

    return _on


@pytest.fixture
def bill(send):
    """bill(subscriptions, calls=…, seats=None, customer="cus_a1"): that usage each month, the three months
    closed and every given subscription's invoices finalized."""

    def _bill(*subscriptions, calls=CALLS, seats=None, customer="cus_a1"):
        for index, period in enumerate(MONTHS):
            send((customer, "api_calls", _time(period), {"calls": calls[index]}))
            if seats is not None:
                send((customer, "seats", _time(period, 12), {"seats": seats}))
        for period in MONTHS:
            close(period)
            for subscription in subscriptions:
                invoice_finalize(invoice=invoice_draft_ensure(subscription=subscription, period=period))

    return _bill


@pytest.fixture
def plans(make_plan, world):
    """A price book where, for the usage above, bundle < lite < pro < enterprise, a plan without API calls
    (cheapest of all, but not comparable) and a cheap plan in another currency."""
    found = {
        "pro": make_plan("pro", [{"model": "flat", "amount": "100"}, _calls("0.002")]),
        "lite": make_plan("lite", [_calls("0.004")]),
        "bundle": make_plan("bundle", [_calls("0.003"), {"model": "per_unit", "metric": "seats", "unit_amount": "5"}]),
        "enterprise": make_plan("enterprise", [{"model": "flat", "amount": "500"}, _calls("0.001")]),
        "storage-only": make_plan(
            "storage-only", [{"model": "flat", "amount": "10"}, {"model": "per_unit", "metric": "storage",
                                                                 "unit_amount": "0.1"}]
        ),
    }  # fmt: skip
    found["lite-eur"] = plan_create(
        actor=world.manager, code="lite-eur", name="Lite EUR", currency="EUR", charges=[_calls("0.0001")]
    )
    return found


def _calls(unit_amount: str) -> dict:
    return {"model": "per_unit", "metric": "api_calls", "unit_amount": unit_amount}


def _usage(figures: dict) -> dict:
    return {row["metric"]: row["quantity"] for row in figures["usage"]}


def _money_by_period(recommendation, *names) -> list[tuple]:
    return [(row["period"], *(row[name] for name in names)) for row in recommendation.periods]


# --- the figures ----------------------------------------------------------------------------------


def test_a_cheaper_plan_is_recommended_with_the_figures_worked_out_by_hand(world, plans, on, bill):
    subscription = on(plans["pro"])
    bill(subscription)

    summary = recommendations_refresh(period=OCTOBER)

    assert (summary.subscriptions, summary.compared, summary.created) == (1, 1, 1)
    recommendation = Recommendation.objects.get()
    # On pro (100 flat + 0.002 a call): 100 + 40 = 140, 100 + 50 = 150, 100 + 20 = 120: 410.
    # On bundle (0.003 a call, 5 a seat, no seats used): 60, 75, 30: 165. Lite (0.004 a call) would be
    # 80, 100, 40: 220; enterprise 520, 525, 510. The storage plan (10 a month) does not charge API calls,
    # and the EUR plan is in another currency: neither is comparable.
    assert (recommendation.kind, recommendation.target_plan_version.plan.code) == ("plan", "bundle")
    assert recommendation.status == "open" and recommendation.currency == "USD"
    assert _money_by_period(recommendation, "actual", "alternative", "saving") == [
        ("2026-08", "140.00", "60.00", "80.00"),
        ("2026-09", "150.00", "75.00", "75.00"),
        ("2026-10", "120.00", "30.00", "90.00"),
    ]
    assert recommendation.actual_total == Decimal("410.00")
    assert recommendation.alternative_total == Decimal("165.00")
    assert recommendation.saving == Decimal("245.00")
    assert recommendation.saving_percent == Decimal("59.76")  # 245 / 410
    assert [_usage(row) for row in recommendation.periods] == [
        {"api_calls": "20000", "seats": "0"},
        {"api_calls": "25000", "seats": "0"},
        {"api_calls": "10000", "seats": "0"},
    ]
    august = recommendation.periods[0]
    assert august["invoice"] == Invoice.objects.get(subscription=subscription, period="2026-08").pk
    assert [line["amount"] for line in august["lines"]] == ["60.00", "0.00"]
    assert recommendation.period == "2026-10" and recommendation.first_period == "2026-08"
    assert recommendation.current_plan_version.plan.code == "pro"

    # The customer's admins and the partner's admins are told; nobody else.
    told = Notification.objects.filter(kind=KIND)
    assert {notification.recipient for notification in told} == {world.customer_user_a1, world.admin_a}
    mine = told.get(recipient=world.customer_user_a1)
    assert mine.title == "You could have saved 245.00 USD over three months: move to Bundle"
    assert mine.url == recommendation.get_absolute_url()
    assert "410.00 USD" in mine.body and "165.00 USD" in mine.body and "(59.76 %)" in mine.body
    assert told.get(recipient=world.admin_a).title.startswith("A1 Corp could have saved 245.00 USD")


def test_usage_of_a_metric_only_the_alternative_charges_is_priced_too(world, plans, on, bill):
    subscription = on(plans["pro"])
    bill(subscription, seats=10)  # ten seats, which pro does not charge but bundle would

    recommendations_refresh(period=OCTOBER)

    # Bundle: 60 + 50, 75 + 50, 30 + 50 = 315, more than lite's 80 + 100 + 40 = 220.
    recommendation = Recommendation.objects.get()
    assert recommendation.target_plan_version.plan.code == "lite"
    assert _money_by_period(recommendation, "actual", "alternative") == [
        ("2026-08", "140.00", "80.00"),
        ("2026-09", "150.00", "100.00"),
        ("2026-10", "120.00", "40.00"),
    ]
    assert (recommendation.saving, recommendation.saving_percent) == (Decimal("190.00"), Decimal("46.34"))


def test_a_plan_charging_a_metric_another_subscription_bills_is_not_offered(world, plans, make_plan, on, bill):
    seats_plan = make_plan("seat-plan", [{"model": "per_unit", "metric": "seats", "unit_amount": "1"}])
    subscription = on(plans["pro"])
    seats = on(seats_plan)
    bill(subscription, seats, seats=3)

    summary = recommendations_refresh(period=OCTOBER)

    # Bundle would bill the seats a second time: lite it is. The seat plan's subscription has no
    # alternative (every other plan lacks seats, or charges API calls that pro already bills).
    assert (summary.compared, summary.created) == (2, 1)
    recommendation = Recommendation.objects.get()
    assert recommendation.subscription == subscription
    assert recommendation.target_plan_version.plan.code == "lite"


def test_the_cheapest_plan_already_gets_no_recommendation(plans, on, bill):
    subscription = on(plans["bundle"])
    bill(subscription)

    summary = recommendations_refresh(period=OCTOBER)

    assert (summary.compared, summary.created) == (1, 0)
    assert not Recommendation.objects.exists()
    assert not Notification.objects.filter(kind=KIND).exists()


def test_only_plans_the_contract_rules_open_to_customers_are_offered(world, plans, on, bill):
    policy = ContractPolicy.current()
    policy.plan_choice = PlanChoice.CHOSEN
    policy.save()
    policy.self_service_plans.set([plans["pro"], plans["lite"]])
    subscription = on(plans["pro"])
    bill(subscription)

    recommendations_refresh(period=OCTOBER)

    # Bundle would be cheapest (see the first test), but customers may not pick it: lite, 220.00 for 410.00.
    recommendation = Recommendation.objects.get(subscription=subscription)
    assert recommendation.target_plan_version.plan.code == "lite"
    assert recommendation.saving == Decimal("190.00")


def test_a_small_saving_is_not_worth_a_recommendation(make_plan, on, bill):
    lite = make_plan("lite", [_calls("0.004")])
    dearer = make_plan("lite-plus", [_calls("0.00405")])
    subscription = on(dearer)
    bill(subscription)

    summary = recommendations_refresh(period=OCTOBER)

    # 81.00 + 101.25 + 40.50 = 222.75 against 220.00 on lite: 2.75 (1.2 %) is below 10 and below 5 %.
    assert Invoice.objects.get(subscription=subscription, period="2026-09").subtotal == Decimal("101.25")
    assert (summary.compared, summary.created) == (1, 0)
    assert lite.is_active and not Recommendation.objects.exists()


@pytest.mark.parametrize(
    "percent, amount, recommended",
    [("46.34", "190", True), ("46.35", "10", False), ("5", "190", True), ("5", "190.01", False)],
)
def test_the_threshold_is_a_percentage_and_an_amount(settings, make_plan, on, bill, percent, amount, recommended):
    settings.PRM_RECOMMENDATION_MIN_SAVING_PERCENT = percent
    settings.PRM_RECOMMENDATION_MIN_SAVING = {"default": amount}
    make_plan("lite", [_calls("0.004")])
    subscription = on(make_plan("pro", [{"model": "flat", "amount": "100"}, _calls("0.002")]))
    bill(subscription)

    recommendations_refresh(period=OCTOBER)

    # Pro 410.00, lite 220.00: a saving of 190.00, 46.34 % of what was paid.
    assert Recommendation.objects.exists() is recommended


def test_true_ups_lead_to_a_commitment_recommendation(make_plan, on, bill):
    metered = make_plan("metered", [_calls("0.01")], minimum_commitment="50")
    subscription = on(metered, commitment=Decimal("300"))
    bill(subscription, calls=(20_000, 25_000, 18_000))

    recommendations_refresh(period=OCTOBER)

    # Charges 200, 250, 180, each topped up to the 300 committed: 900 paid (true-ups 100, 50, 120).
    # The highest commitment without a true-up: the smallest month, 180 (above the plan's 50). Under it
    # each month costs its charges: 200 + 250 + 180 = 630. Saving 270, 30 %.
    recommendation = Recommendation.objects.get()
    assert recommendation.kind == "commitment" and recommendation.target_plan_version is None
    assert recommendation.target_commitment == Decimal("180")
    assert recommendation.current_commitment == Decimal("300")
    assert _money_by_period(recommendation, "charges", "true_up", "actual", "alternative", "saving") == [
        ("2026-08", "200.00", "100.00", "300.00", "200.00", "100.00"),
        ("2026-09", "250.00", "50.00", "300.00", "250.00", "50.00"),
        ("2026-10", "180.00", "120.00", "300.00", "180.00", "120.00"),
    ]
    assert (recommendation.saving, recommendation.saving_percent) == (Decimal("270.00"), Decimal("30.00"))
    assert recommendation.advice == "Lower the commitment to 180.00 USD"


def test_a_commitment_is_never_recommended_below_the_plans_minimum(make_plan, on, bill):
    metered = make_plan("metered", [_calls("0.01")], minimum_commitment="190")
    subscription = on(metered, commitment=Decimal("300"))
    bill(subscription, calls=(20_000, 25_000, 18_000))

    recommendations_refresh(period=OCTOBER)

    # The smallest month is 180, below the plan's minimum of 190: 190 it is. October still tops up 10.
    recommendation = Recommendation.objects.get()
    assert recommendation.target_commitment == Decimal("190")
    assert _money_by_period(recommendation, "alternative") == [
        ("2026-08", "200.00"), ("2026-09", "250.00"), ("2026-10", "190.00"),
    ]  # fmt: skip
    assert recommendation.saving == Decimal("260.00")


# --- what is compared -----------------------------------------------------------------------------


def test_only_three_whole_months_on_the_same_terms_are_compared(plans, on, bill):
    subscription = on(plans["pro"], started_at="2026-08-15T00:00:00Z")  # August only in part
    bill(subscription)

    summary = recommendations_refresh(period=OCTOBER)

    assert (summary.subscriptions, summary.compared, summary.created) == (0, 0, 0)
    assert not Recommendation.objects.exists()


def test_three_closed_periods_are_needed(plans, on, bill):
    bill(on(plans["pro"]))

    summary = recommendations_refresh(period=SEPTEMBER)

    assert summary.skipped == "needs 3 closed periods ending with 2026-09; not closed: 2026-07"
    assert not Recommendation.objects.exists()


# --- idempotent, refreshed, superseded, applied ---------------------------------------------------


def test_refreshing_again_neither_duplicates_nor_tells_anyone_again(plans, on, bill):
    bill(on(plans["pro"]))
    recommendations_refresh(period=OCTOBER)
    first = Recommendation.objects.get()
    told = Notification.objects.filter(kind=KIND).count()

    again = recommendations_refresh(period=OCTOBER)

    assert (again.created, again.updated, again.unchanged, again.superseded) == (0, 0, 1, 0)
    assert list(Recommendation.objects.values_list("pk", "status")) == [(first.pk, "open")]
    assert Notification.objects.filter(kind=KIND).count() == told == 2
    assert Recommendation.objects.get().computed_at == first.computed_at


def test_new_figures_update_the_open_recommendation_in_place(world, plans, on, bill):
    subscription = on(plans["pro"])
    bill(subscription)
    recommendations_refresh(period=OCTOBER)
    first = Recommendation.objects.get()
    october = Invoice.objects.get(subscription=subscription, period="2026-10")
    credit_note_create(actor=world.manager, invoice=october, amount="20", reason="Outage in October")

    summary = recommendations_refresh(period=OCTOBER)

    # October cost 120 − 20 = 100: 30 less than before, so the saving is 215 of 390 paid.
    assert (summary.updated, summary.created) == (1, 0)
    recommendation = Recommendation.objects.get()
    assert recommendation.pk == first.pk and recommendation.status == "open"
    october_figures = _money_by_period(recommendation, "credited", "actual", "saving")[-1]
    assert october_figures == ("2026-10", "20.00", "100.00", "70.00")
    assert (recommendation.actual_total, recommendation.saving) == (Decimal("390.00"), Decimal("225.00"))
    assert recommendation.saving_percent == Decimal("57.69")
    assert Notification.objects.filter(kind=KIND).count() == 2  # the same advice: nobody told twice


def test_different_advice_supersedes_the_open_one(world, plans, on, bill):
    bill(on(plans["pro"]))
    recommendations_refresh(period=OCTOBER)
    plan_update(actor=world.manager, plan=plans["bundle"], is_active=False)  # no longer on offer

    summary = recommendations_refresh(period=OCTOBER)

    assert (summary.superseded, summary.created) == (1, 1)
    rows = {row.target_plan_version.plan.code: row.status for row in Recommendation.objects.all()}
    assert rows == {"bundle": "superseded", "lite": "open"}
    assert Notification.objects.filter(kind=KIND).count() == 4  # the new advice is news


def test_advice_taken_is_marked_applied(world, plans, on, bill):
    subscription = on(plans["pro"])
    bill(subscription)
    recommendations_refresh(period=OCTOBER)

    subscription_change_plan(actor=world.manager, subscription=subscription, plan=plans["bundle"])
    summary = recommendations_refresh(period=OCTOBER)

    assert (summary.applied, summary.created) == (1, 0)
    recommendation = Recommendation.objects.get()
    assert recommendation.status == "applied" and recommendation.decided_at is not None


# --- dismissing -----------------------------------------------------------------------------------


@pytest.fixture
def recommended(plans, on, bill):
    bill(on(plans["pro"]))
    recommendations_refresh(period=OCTOBER)
    return Recommendation.objects.get()


def test_a_customer_admin_dismisses_and_the_advice_is_not_raised_again(world, recommended, login):
    client = login(world.customer_user_a1)
    response = client.post(reverse("recommendation_dismiss", args=[recommended.pk]))

    assert response.status_code == 302 and response["Location"] == recommended.get_absolute_url()
    recommended.refresh_from_db()
    assert recommended.status == "dismissed" and recommended.decided_by == world.customer_user_a1

    summary = recommendations_refresh(period=OCTOBER)
    assert summary.created == 0
    assert list(Recommendation.objects.values_list("status", flat=True)) == ["dismissed"]
    assert Notification.objects.filter(kind=KIND).count() == 2


def test_the_partner_admin_dismisses_through_the_api_once(world, recommended, login):
    client = login(world.admin_a)
    url = reverse("recommendation-dismiss", args=[recommended.pk])

    response = client.post(url)
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    assert response.json()["decided_by"] == world.admin_a.email

    again = client.post(url)
    assert again.status_code == 400
    assert again.json()["status"] == ["This recommendation is dismissed; only an open one can be dismissed."]


def test_viewers_reps_and_managers_do_not_dismiss(world, recommended, login):
    for user in (world.customer_viewer_a1, world.rep_a, world.manager):
        client = login(user)
        page = client.get(recommended.get_absolute_url())
        assert page.status_code == 200  # they may read it
        assert "Dismiss this recommendation" not in page.content.decode()
        assert client.post(reverse("recommendation_dismiss", args=[recommended.pk])).status_code == 403, user.email
        assert client.post(reverse("recommendation-dismiss", args=[recommended.pk])).status_code == 403, user.email
    recommended.refresh_from_db()
    assert recommended.status == "open"


# --- scope ----------------------------------------------------------------------------------------


def test_partner_b_and_another_customer_find_none_of_it(world, recommended, login):
    detail = recommended.get_absolute_url()
    for user in (world.admin_b, world.rep_b, world.customer_user_b1, world.customer_user_a2):
        client = login(user)
        assert client.get(detail).status_code == 404, user.email
        assert client.post(reverse("recommendation_dismiss", args=[recommended.pk])).status_code == 404
        assert client.get(reverse("recommendation-detail", args=[recommended.pk])).status_code == 404
        assert client.post(reverse("recommendation-dismiss", args=[recommended.pk])).status_code == 404
        assert client.get(reverse("recommendation-list")).json()["count"] == 0
        assert "A1 Corp" not in client.get(reverse("recommendation_list")).content.decode()
    recommended.refresh_from_db()
    assert recommended.status == "open"
    for user in (world.customer_user_a1, world.rep_a, world.admin_a, world.manager):
        assert login(user).get(reverse("recommendation-list")).json()["count"] == 1, user.email


# --- pages, API, dashboards -----------------------------------------------------------------------


def test_the_list_detail_and_csv_show_the_figures(world, recommended, login):
    client = login(world.customer_user_a1)
    listing = client.get(reverse("recommendation_list"), {"status": "open"}).content.decode()
    assert "Move to Bundle" in listing and "245.00" in listing and "59.8 %" in listing
    assert "1 result" in listing
    assert "0 results" in client.get(reverse("recommendation_list"), {"status": "dismissed"}).content.decode()
    export = b"".join(client.get(reverse("recommendation_list"), {"export": "csv"}).streaming_content).decode()
    assert "Move to Bundle" in export and "410.00" in export and "165.00" in export and "245.00" in export

    page = client.get(recommended.get_absolute_url()).content.decode()
    # "Review this change" opens the change's price-impact preview, filled in.
    preview = reverse("subscription_change_preview", args=[recommended.subscription_id])
    review = f"{preview}?kind=plan&plan-plan={recommended.target_plan_version.plan_id}"
    assert f'href="{review.replace("&", "&amp;")}"' in page and "Review this change" in page
    previewed = client.get(review)
    assert previewed.status_code == 200 and previewed.context["preview"] is not None
    for text in ("2026-08", "140.00", "60.00", "80.00", "245.00 USD less over three months (59.8 %)"):
        assert text in page, text
    assert "Dismiss this recommendation" in page


def test_the_api_lists_the_figures(world, recommended, login):
    body = login(world.customer_user_a1).get(reverse("recommendation-list")).json()
    (row,) = body["results"]
    assert (row["kind"], row["status"], row["current_plan"], row["target_plan"]) == ("plan", "open", "pro", "bundle")
    assert (row["actual_total"], row["alternative_total"], row["saving"], row["saving_percent"]) == (
        "410.00", "165.00", "245.00", "59.76",
    )  # fmt: skip
    assert (row["first_period"], row["period"], row["customer"]) == ("2026-08", "2026-10", "cus_a1")
    assert row["currency"] == "USD"
    assert [(p["period"], p["actual"], p["alternative"]) for p in row["periods"]][0] == ("2026-08", "140.00", "60.00")
    assert row["summary"].startswith("From 2026-08 to 2026-10 the usage on Pro cost 410.00 USD")
    assert row["target_commitment"] is None


def test_the_dashboards_show_who_could_pay_less(world, recommended, login):
    customer_home = login(world.customer_user_a1).get(reverse("home")).content.decode()
    assert "You could save 245.00 USD" in customer_home
    assert recommended.get_absolute_url() in customer_home

    partner_home = login(world.admin_a).get(reverse("home"))
    rows = partner_home.context["recommendations"]
    assert [(row["recommendation"].customer.name, row["saving"]) for row in rows] == [("A1 Corp", "245.00 USD")]
    assert "Customers who could pay less" in partner_home.content.decode()

    other = login(world.admin_b).get(reverse("home"))
    assert other.context["recommendations"] == []
    assert "No customer would have paid less" in other.content.decode()


def test_who_may_not_change_the_subscription_is_shown_it_instead_of_a_preview(world, recommended, login):
    page = login(world.customer_viewer_a1).get(recommended.get_absolute_url())
    assert page.context["review_url"] == recommended.subscription.get_absolute_url()
    assert "See the subscription" in page.content.decode()
    partner_admin = login(world.admin_a).get(recommended.get_absolute_url())
    assert partner_admin.context["review_url"].startswith(
        reverse("subscription_change_preview", args=[recommended.subscription_id])
    )


def test_a_commitment_recommendation_previews_the_commitment(world, make_plan, on, bill, login):
    bill(on(make_plan("metered", [_calls("0.01")], minimum_commitment="50"), commitment=Decimal("300")),
         calls=(20_000, 25_000, 18_000))  # fmt: skip
    recommendations_refresh(period=OCTOBER)
    recommendation = Recommendation.objects.get()
    client = login(world.customer_user_a1)

    review = client.get(recommendation.get_absolute_url()).context["review_url"]

    preview = reverse("subscription_change_preview", args=[recommendation.subscription_id])
    assert review == f"{preview}?kind=commitment&commitment-commitment=180"
    assert client.get(review).context["preview"] is not None


@pytest.mark.parametrize("customers", [1, 6])
def test_a_refresh_costs_the_same_queries_however_many_customers(world, plans, on, send, customers):
    subscriptions = []
    for index in range(customers):
        customer = factories.CustomerFactory(reseller=world.partner_a, external_id=f"cus_many_{index}")
        factories.customer_admin(customer)
        subscriptions.append(on(plans["pro"], customer=customer))
        for month, period in enumerate(MONTHS):
            send((customer.external_id, "api_calls", _time(period), {"calls": CALLS[month]}))
    for period in MONTHS:
        close(period)
        for subscription in subscriptions:
            invoice_finalize(invoice=invoice_draft_ensure(subscription=subscription, period=period))
    assert recommendations_refresh(period=OCTOBER).created == customers

    with CaptureQueriesContext(connection) as captured:
        again = recommendations_refresh(period=OCTOBER)

    assert again.unchanged == customers
    # Closed periods; the contract rules; the plans' versions; metrics; subscriptions + their changes;
    # invoices; their lines; the customers' subscriptions; who has usage of a metric only an alternative
    # charges (seats); the open recommendations; those of ended subscriptions, superseded (a select and
    # an update).
    assert len(captured) == 13
