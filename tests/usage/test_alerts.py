"""Alert rules and alerts: the API and the portal pages, bad input named by field, scope (another
partner's customer is not found, or not choosable), the default rules, acknowledging, and the
customer dashboard's alerts panel. Evaluation itself is tested in tests/operations/test_alerting.py.
"""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from prm.usage.alerts import alert_record, alert_rule_create, alert_rules_ensure_defaults
from prm.usage.models import Alert, AlertRule
from tests.billing import conftest as billing

# Billing's set-up, shared: a catalogue made through the plan services, subscriptions through theirs.
catalogue, make_plan, subscribe = billing.catalogue, billing.make_plan, billing.subscribe

RULES = "/api/v1/alert-rules/"
ALERTS = "/api/v1/alerts/"
PER_CALL = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}]
NOVEMBER = datetime(2026, 11, 1, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 1, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def _post(client, body, path=RULES):
    return client.post(path, body, content_type="application/json")


def _fired(rule, observed="12", fired_at=datetime(2026, 11, 5, 9, tzinfo=UTC), **fields) -> Alert:
    """An alert of `rule`, recorded the way the evaluation records one (its figures are tested there)."""
    values = {
        "rule": rule, "customer": rule.customer, "metric": rule.metric, "measure": rule.measure, "basis": rule.basis,
        "period_start": NOVEMBER, "period_end": DECEMBER, "threshold": rule.threshold, "limit": rule.threshold,
        "observed": Decimal(observed), "unit": "unit", "fired_at": fired_at,
        "message": f"{rule.customer} used {observed} unit of Api Calls in 2026-11 so far.",
    }  # fmt: skip
    return alert_record(**{**values, **fields})


def _usage_rule(actor, customer, metric, threshold="10", **fields) -> AlertRule:
    return alert_rule_create(
        actor=actor, customer=customer, metric=metric, measure="usage", basis="absolute",
        threshold=Decimal(threshold), **fields,
    )  # fmt: skip


# --- the rules' API -----------------------------------------------------------------------------


def test_a_customer_admin_sets_a_rule_for_their_own_customer(world, login, catalogue):
    client = login(world.customer_user_a1)
    response = _post(client, {"metric": "api_calls", "measure": "usage", "basis": "absolute", "threshold": "5000"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["customer"], body["metric"], body["threshold"], body["is_default"]) == (
        "cus_a1",
        "api_calls",
        "5000",
        False,
    )
    assert body["description"] == "Api Calls ≥ 5,000 unit in a billing period"
    rule = AlertRule.objects.get(pk=body["id"])
    assert (rule.customer, rule.created_by) == (world.customer_a1, world.customer_user_a1)

    # Changed (PATCH), and switched off.
    response = client.patch(
        f"{RULES}{rule.pk}/", {"threshold": "7500.5", "is_active": False}, content_type="application/json"
    )
    assert response.status_code == 200, response.json()
    rule.refresh_from_db()
    assert (rule.threshold, rule.is_active) == (Decimal("7500.5"), False)
    # The customer stays: a rule does not move to another customer.
    client.patch(f"{RULES}{rule.pk}/", {"customer": "cus_a2"}, content_type="application/json")
    assert AlertRule.objects.get(pk=rule.pk).customer == world.customer_a1


@pytest.mark.parametrize("threshold", ["0", "-1"])
def test_a_threshold_must_be_positive(world, login, catalogue, threshold):
    response = _post(
        login(world.admin_a),
        {"customer": "cus_a1", "metric": "api_calls", "measure": "usage", "basis": "absolute", "threshold": threshold},
    )
    assert response.status_code == 400
    assert response.json() == {"threshold": ["The threshold must be greater than 0."]}
    assert not AlertRule.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"measure": "usage", "basis": "absolute", "threshold": "5"}, "metric", "needs the metric"),
        ({"metric": "api_calls", "measure": "usage", "basis": "percent_of_commitment", "threshold": "80"},
         "basis", "share of spend"),
        ({"measure": "spend", "basis": "percent_of_commitment", "threshold": "80"}, "subscription", "choose which"),
        ({"measure": "spend", "basis": "sideways", "threshold": "80"}, "basis", "not a valid choice"),
        ({"metric": "api_calls", "measure": "usage", "basis": "anomaly", "threshold": "3"}, "threshold", "set k"),
        ({"measure": "usage", "basis": "anomaly"}, "metric", "needs the metric"),
        ({"metric": "api_calls", "measure": "spend", "basis": "anomaly"}, "measure", "choose measure usage"),
        ({"metric": "api_calls", "measure": "usage", "basis": "anomaly", "k": "0"}, "k", "greater than 0"),
        ({"metric": "api_calls", "measure": "usage", "basis": "anomaly", "baseline_days": 2}, "baseline_days",
         "3 to 90"),
        ({"metric": "nope", "measure": "usage", "basis": "absolute", "threshold": "1"}, "metric", "does not exist"),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_naming_the_field(world, login, catalogue, body, field, words):
    response = _post(login(world.manager), {"customer": "cus_a1", **body})
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field] and words in " ".join(errors[field]), errors


def test_a_percentage_of_the_commitment_needs_a_commitment(world, login, make_plan, subscribe):
    subscription = subscribe(make_plan("calls", PER_CALL))  # no commitment, no plan minimum
    client = login(world.admin_a)
    body = {"customer": "cus_a1", "measure": "spend", "basis": "percent_of_commitment", "threshold": "90"}
    response = _post(client, body)
    assert response.status_code == 400
    assert response.json() == {
        "basis": [f"{subscription.external_id} has no commitment (neither its own nor its plan's minimum): a "
                  "percentage of it means nothing. Choose an absolute threshold instead."]
    }  # fmt: skip
    # With a commitment, the customer's one subscription is the one measured against.
    subscription.commitment = Decimal("500")
    subscription.save()
    response = _post(client, body)
    assert response.status_code == 201 and response.json()["subscription"] == subscription.external_id
    assert response.json()["description"] == f"Spend ≥ 90 % of the commitment ({subscription.external_id})"


def test_a_partner_neither_sees_nor_sets_another_partners_rules(world, login, catalogue):
    rule_b = _usage_rule(world.admin_b, world.customer_b1, catalogue.api_calls)
    client = login(world.admin_a)
    response = _post(client, {"customer": "cus_b1", "metric": "api_calls", "measure": "usage", "basis": "absolute",
                              "threshold": "1"})  # fmt: skip
    assert response.status_code == 400 and list(response.json()) == ["customer"]
    assert client.get(f"{RULES}{rule_b.pk}/").status_code == 404
    assert (
        client.patch(f"{RULES}{rule_b.pk}/", {"is_active": False}, content_type="application/json").status_code == 404
    )
    assert client.get(RULES).json()["count"] == 0
    # A rep only for the customers assigned to them: A2 is not.
    response = _post(login(world.rep_a), {"customer": "cus_a2", "metric": "api_calls", "measure": "usage",
                                          "basis": "absolute", "threshold": "1"})  # fmt: skip
    assert response.status_code == 400 and list(response.json()) == ["customer"]
    # A subscription of another customer is not one to choose either.
    assert AlertRule.objects.get().is_active


def test_viewers_read_rules_but_do_not_set_them(world, login, catalogue):
    rule = _usage_rule(world.customer_user_a1, world.customer_a1, catalogue.api_calls)
    client = login(world.customer_viewer_a1)
    assert [row["id"] for row in client.get(RULES).json()["results"]] == [rule.pk]
    body = {"metric": "api_calls", "measure": "usage", "basis": "absolute", "threshold": "1"}
    assert _post(client, body).status_code == 403
    assert client.patch(f"{RULES}{rule.pk}/", {"threshold": "2"}, content_type="application/json").status_code == 403
    assert AlertRule.objects.get().threshold == 10


def test_rules_filter_like_the_page(world, login, catalogue):
    usage = _usage_rule(world.manager, world.customer_a1, catalogue.api_calls)
    anomaly = alert_rule_create(
        actor=world.manager, customer=world.customer_a2, metric=catalogue.storage, measure="usage", basis="anomaly"
    )
    client = login(world.admin_a)

    def ids(**query):
        return [row["id"] for row in client.get(RULES, query).json()["results"]]

    assert ids(basis="anomaly") == [anomaly.pk] and ids(metric="api_calls") == [usage.pk]
    assert ids(customer=world.customer_a1.pk) == [usage.pk] and ids(is_default="true") == []


# --- default rules ------------------------------------------------------------------------------


def test_every_subscription_with_a_commitment_gets_two_default_rules_once(world, make_plan, subscribe):
    own = subscribe(make_plan("calls", PER_CALL), commitment=Decimal("300"))
    minimum = subscribe(make_plan("units", [{"model": "flat", "amount": "10"}], minimum_commitment="100"),
                        customer=world.customer_a2)  # fmt: skip
    subscribe(make_plan("free", [{"model": "flat", "amount": "0"}]), customer=world.customer_b1)  # none
    assert alert_rules_ensure_defaults() == 4
    assert alert_rules_ensure_defaults() == 0
    rules = AlertRule.objects.order_by("subscription", "threshold")
    assert [(r.subscription, r.threshold, r.default_key, r.is_default, r.created_by) for r in rules] == [
        (own, 80, "commitment-80", True, None), (own, 100, "commitment-100", True, None),
        (minimum, 80, "commitment-80", True, None), (minimum, 100, "commitment-100", True, None),
    ]  # fmt: skip
    assert str(rules[0]) == f"Spend ≥ 80 % of the commitment ({own.external_id})"


# --- alerts -------------------------------------------------------------------------------------


def test_alerts_are_listed_filtered_and_acknowledged(world, login, catalogue):
    rule = _usage_rule(world.customer_user_a1, world.customer_a1, catalogue.api_calls)
    alert = _fired(rule)
    raised = _usage_rule(world.manager, world.customer_a2, catalogue.storage)
    later = _fired(raised, fired_at=datetime(2026, 11, 15, 9, tzinfo=UTC))
    b_alert = _fired(_usage_rule(world.admin_b, world.customer_b1, catalogue.api_calls))
    assert _fired(rule) is None  # once per period and threshold

    client = login(world.admin_a)
    listing = client.get(ALERTS).json()
    assert [row["id"] for row in listing["results"]] == [later.pk, alert.pk]  # newest first; not B's
    row = listing["results"][1]
    assert (row["customer"], row["metric"], row["observed"], row["limit"], row["unit"]) == (
        "cus_a1", "api_calls", "12", "10", "unit",
    )  # fmt: skip

    def ids(**query):
        return [row["id"] for row in client.get(ALERTS, query).json()["results"]]

    assert ids(customer=world.customer_a1.pk) == [alert.pk] and ids(metric="storage") == [later.pk]
    assert ids(fired_from="2026-11-10") == [later.pk] and ids(fired_to="2026-11-05") == [alert.pk]
    assert ids(basis="anomaly") == [] and ids(acknowledged="false") == [later.pk, alert.pk]

    assert client.post(f"{ALERTS}{b_alert.pk}/acknowledge/").status_code == 404
    response = client.post(f"{ALERTS}{alert.pk}/acknowledge/")
    assert response.status_code == 200 and response.json()["acknowledged_by"] == world.admin_a.pk
    first = response.json()["acknowledged_at"]
    assert client.post(f"{ALERTS}{alert.pk}/acknowledge/").json()["acknowledged_at"] == first  # once
    assert ids(acknowledged="true") == [alert.pk]
    # Viewers read alerts but do not acknowledge them.
    viewer = login(world.customer_viewer_a1)
    assert [row["id"] for row in viewer.get(ALERTS).json()["results"]] == [alert.pk]
    assert viewer.post(f"{ALERTS}{alert.pk}/acknowledge/").status_code == 403
    assert Alert.objects.get(pk=b_alert.pk).acknowledged_at is None


# --- the pages ----------------------------------------------------------------------------------


def test_the_rule_pages_create_and_edit_through_the_service(world, login, catalogue):
    client = login(world.admin_a)
    page = client.get(reverse("alert_rule_create")).content.decode()
    assert '<label for="id_customer">Customer' in page and "A2 Corp" in page and "B1 Corp" not in page

    response = client.post(reverse("alert_rule_create"), {
        "customer": world.customer_a1.pk, "metric": catalogue.api_calls.pk, "measure": "usage", "basis": "absolute",
        "threshold": "0", "k": "3", "baseline_days": "14", "is_active": "on",
    })  # fmt: skip
    assert response.status_code == 200 and not AlertRule.objects.exists()
    assert response.context["form"].errors == {"threshold": ["The threshold must be greater than 0."]}

    response = client.post(reverse("alert_rule_create"), {
        "customer": world.customer_a1.pk, "metric": catalogue.api_calls.pk, "measure": "usage", "basis": "absolute",
        "threshold": "2500", "k": "3", "baseline_days": "14", "is_active": "on",
    })  # fmt: skip
    assert response.status_code == 302 and response["Location"] == reverse("alert_rule_list")
    rule = AlertRule.objects.get()
    assert (rule.customer, rule.threshold, rule.created_by) == (world.customer_a1, 2500, world.admin_a)

    listing = client.get(reverse("alert_rule_list")).content.decode()
    assert (
        "Api Calls ≥ 2,500 unit in a billing period" in listing
        and reverse("alert_rule_edit", args=[rule.pk]) in listing
    )
    export = b"".join(client.get(reverse("alert_rule_list"), {"export": "csv"}).streaming_content).decode()
    assert "Api Calls ≥ 2,500 unit in a billing period" in export and "2,500 unit" in export

    response = client.post(reverse("alert_rule_edit", args=[rule.pk]), {
        "customer": world.customer_a2.pk, "metric": catalogue.api_calls.pk, "measure": "usage", "basis": "anomaly",
        "k": "4", "baseline_days": "21",
    })  # fmt: skip
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.customer, rule.basis, rule.threshold, rule.k, rule.baseline_days, rule.is_active) == (
        world.customer_a1, "anomaly", None, 4, 21, False,
    )  # fmt: skip


def test_a_customers_form_has_no_customer_to_choose_and_viewers_get_no_form(world, login, catalogue):
    client = login(world.customer_user_a1)
    page = client.get(reverse("alert_rule_create")).content.decode()
    assert 'id="id_customer"' not in page and '<label for="id_threshold">' in page
    response = client.post(reverse("alert_rule_create"), {
        "metric": catalogue.api_calls.pk, "measure": "usage", "basis": "absolute", "threshold": "9",
        "k": "3", "baseline_days": "14", "is_active": "on",
    })  # fmt: skip
    assert response.status_code == 302 and AlertRule.objects.get().customer == world.customer_a1
    viewer = login(world.customer_viewer_a1)
    assert viewer.get(reverse("alert_rule_create")).status_code == 403
    assert viewer.get(reverse("alert_rule_edit", args=[AlertRule.objects.get().pk])).status_code == 403
    assert viewer.get(reverse("alert_rule_list")).status_code == 200


def test_the_alert_pages_list_export_show_and_acknowledge(world, login, catalogue):
    alert = _fired(_usage_rule(world.customer_user_a1, world.customer_a1, catalogue.api_calls))
    client = login(world.customer_user_a1)
    listing = client.get(reverse("alert_list"))
    body = listing.content.decode()
    assert alert.message in body and reverse("alert_acknowledge", args=[alert.pk]) in body
    export = list(csv.reader(io.StringIO(
        b"".join(client.get(reverse("alert_list"), {"export": "csv"}).streaming_content).decode()
    )))  # fmt: skip
    assert export[1][export[0].index("What happened")] == alert.message
    assert export[1][export[0].index("Observed")] == "12"

    detail = client.get(reverse("alert_detail", args=[alert.pk])).content.decode()
    assert alert.message in detail and "Api Calls ≥ 10 unit in a billing period" in detail

    response = client.post(reverse("alert_acknowledge", args=[alert.pk]), {"next": reverse("alert_list")})
    assert response.status_code == 302 and response["Location"] == reverse("alert_list")
    alert.refresh_from_db()
    assert alert.acknowledged_by == world.customer_user_a1
    # Only a path of this site is followed back.
    response = client.post(reverse("alert_acknowledge", args=[alert.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("alert_detail", args=[alert.pk])
    assert login(world.customer_viewer_a1).post(reverse("alert_acknowledge", args=[alert.pk])).status_code == 403


def test_the_customer_dashboard_shows_the_latest_alerts(world, login, catalogue):
    rule = _usage_rule(world.customer_user_a1, world.customer_a1, catalogue.api_calls)
    alert = _fired(rule)
    _fired(_usage_rule(world.manager, world.customer_a2, catalogue.api_calls), observed="777")
    page = login(world.customer_viewer_a1).get(reverse("home"))
    assert [each.pk for each in page.context["alerts"]] == [alert.pk]
    body = page.content.decode()
    assert alert.message in body and "777" not in body and "No alerts." not in body
