"""Prepaid credits: packs bought and billed, goodwill grants, drawing them down, finalizing, voiding."""

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.urls import reverse

from prm.billing.credits import credit_grant_create, credit_pack_purchase
from prm.billing.models import CreditDrawdown, CreditGrant, Invoice
from prm.billing.services import invoice_finalize, invoice_refresh_draft, invoice_void
from prm.core.periods import BillingPeriod
from prm.operations.period_close import period_close
from prm.plans.services import plan_create
from tests import factories
from tests.billing.conftest import OCTOBER, close

SEPTEMBER = BillingPeriod(2026, 9)
PER_CALL = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}]  # 100 calls = 1.00
PACKS = [
    {"name": "Starter 500", "price": "450", "credits": "500"},
    {"name": "Big 5000", "price": "4000", "credits": "5000"},
]


def moment(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def api_plan(world, catalogue):
    def _plan(code="api", charges=PER_CALL, currency="USD", credit_packs=PACKS, minimum_commitment=None):
        return plan_create(
            actor=world.manager, code=code, name=code.title(), currency=currency, charges=charges,
            credit_packs=credit_packs, minimum_commitment=minimum_commitment,
        )  # fmt: skip

    return _plan


@pytest.fixture
def usage(send):
    """usage(month, calls, customer="cus_a1"): that many api calls on the 3rd of the month."""

    def _usage(month: int, calls: int, customer: str = "cus_a1"):
        send((customer, "api_calls", moment(month, 3).isoformat(), {"calls": calls}))

    return _usage


@pytest.fixture
def subscription(api_plan, subscribe):
    """cus_a1 on the api plan from 1 September 2026."""
    return subscribe(api_plan(), started_at="2026-09-01T00:00:00Z")


def finalize(subscription, period: BillingPeriod) -> Invoice:
    close(period)
    return invoice_finalize(invoice=invoice_refresh_draft(subscription=subscription, period=period))


def lines(invoice: Invoice) -> list[tuple[str, Decimal]]:
    return [(line.model, line.amount) for line in invoice.lines.order_by("position")]


def balance(grant: CreditGrant) -> Decimal:
    return CreditGrant.objects.get(pk=grant.pk).balance


def goodwill(world, subscription, credits, granted_at, **fields) -> CreditGrant:
    return credit_grant_create(
        actor=world.manager, subscription=subscription, credits=credits, reason="outage", granted_at=granted_at,
        **fields,
    )  # fmt: skip


# --- the worked example -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_pack_bought_mid_period_is_billed_then_drawn_down_over_two_periods(world, subscription, usage):
    grant = credit_pack_purchase(
        actor=world.customer_user_a1, subscription=subscription, pack="Starter 500", granted_at=moment(9, 15)
    )
    assert (grant.source, grant.name, grant.currency, grant.credits, grant.price) == (
        "purchase", "Starter 500", "USD", Decimal("500"), Decimal("450"),
    )  # fmt: skip
    assert grant.customer == world.customer_a1 and grant.granted_by == world.customer_user_a1
    usage(9, 12_000)  # 120.00

    september = finalize(subscription, SEPTEMBER)
    assert lines(september) == [
        ("per_unit", Decimal("120.00")),
        ("credit_pack", Decimal("450.00")),
        ("prepaid_credit", Decimal("-120.00")),
    ]
    assert september.subtotal == Decimal("120.00")
    assert september.total == Decimal("450.00")  # the pack is billed; the usage is paid by credits
    pack_line, credit_line = september.lines.order_by("position")[1:]
    assert pack_line.description == "Credit pack “Starter 500” bought 2026-09-15: 500.00 USD of prepaid credits"
    assert credit_line.description == "Prepaid credits applied: 120.00 of 500.00 available"
    assert credit_line.charge == {
        "model": "prepaid_credit", "available": "500", "applied": "120",
        "grants": [{"grant": grant.pk, "name": "Starter 500", "available": "500", "applied": "120"}],
    }  # fmt: skip
    assert list(CreditDrawdown.objects.values_list("grant", "invoice", "amount")) == [
        (grant.pk, september.pk, Decimal("120.000"))
    ]
    assert balance(grant) == Decimal("380")

    usage(10, 40_000)  # 400.00: more than remains
    october = finalize(subscription, OCTOBER)
    assert lines(october) == [("per_unit", Decimal("400.00")), ("prepaid_credit", Decimal("-380.00"))]
    assert october.total == Decimal("20.00")
    assert october.lines.get(model="prepaid_credit").description == (
        "Prepaid credits applied: 380.00 of 380.00 available"
    )
    assert balance(grant) == Decimal("0")
    # Spent: the next period gets no credit line at all.
    november = invoice_refresh_draft(subscription=subscription, period=OCTOBER.next())
    assert [model for model, _amount in lines(november)] == ["per_unit"]


# --- what credits pay, and in which order -----------------------------------------------------


@pytest.mark.django_db
def test_credits_cover_the_minimum_commitment_true_up(world, api_plan, subscribe, usage):
    subscription = subscribe(api_plan(minimum_commitment="100"), started_at="2026-09-01T00:00:00Z")
    grant = goodwill(world, subscription, "80", moment(9, 2))
    usage(9, 3_000)  # 30.00, trued up to 100.00
    invoice = finalize(subscription, SEPTEMBER)
    assert lines(invoice) == [
        ("per_unit", Decimal("30.00")),
        ("minimum_commitment", Decimal("70.00")),
        ("prepaid_credit", Decimal("-80.00")),
    ]
    assert (invoice.subtotal, invoice.total) == (Decimal("30.00"), Decimal("20.00"))
    assert balance(grant) == Decimal("0")


@pytest.mark.django_db
def test_credits_never_pay_for_packs_nor_make_the_total_negative(world, subscription, usage):
    credit_pack_purchase(actor=world.manager, subscription=subscription, pack="Big 5000", granted_at=moment(9, 15))
    usage(9, 1_050)  # 10.50
    invoice = finalize(subscription, SEPTEMBER)
    assert lines(invoice) == [
        ("per_unit", Decimal("10.50")),
        ("credit_pack", Decimal("4000.00")),
        ("prepaid_credit", Decimal("-10.50")),
    ]
    assert invoice.total == Decimal("4000.00")
    assert invoice.lines.get(model="prepaid_credit").description == (
        "Prepaid credits applied: 10.50 of 5,000.00 available"
    )


@pytest.mark.django_db
def test_jpy_credits_are_whole_yen(world, catalogue, subscribe, send):
    customer = factories.CustomerFactory(reseller=world.partner_a, external_id="cus_jp", currency="JPY")
    plan = plan_create(
        actor=world.manager, code="api-jpy", name="API JPY", currency="JPY",
        charges=[{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.5"}],
        credit_packs=[{"name": "Yen 1000", "price": "900", "credits": "1000"}],
    )  # fmt: skip
    subscription = subscribe(plan, customer=customer, started_at="2026-09-01T00:00:00Z")
    with pytest.raises(ValidationError) as error:
        goodwill(world, subscription, "10.5", moment(9, 2))
    assert error.value.message_dict == {"credits": ["JPY has 0 decimal places; 10.5 has more."]}
    goodwill(world, subscription, "100", moment(9, 2))
    send(("cus_jp", "api_calls", moment(9, 3).isoformat(), {"calls": 241}))  # 120.5 → 121 yen
    invoice = finalize(subscription, SEPTEMBER)
    assert lines(invoice) == [("per_unit", Decimal("121")), ("prepaid_credit", Decimal("-100"))]
    assert invoice.total == Decimal("21")
    assert invoice.lines.get(model="prepaid_credit").description == "Prepaid credits applied: 100 of 100 available"


@pytest.mark.django_db
def test_expired_grants_are_not_drawn(world, subscription, usage):
    # Expires when October starts: September may use it, October may not.
    september_only = goodwill(world, subscription, "50", moment(9, 2), expires_at=datetime(2026, 10, 1, tzinfo=UTC))
    # Expires mid-October: October's invoice still draws on it.
    mid_october = goodwill(world, subscription, "30", moment(9, 2), expires_at=moment(10, 15))
    usage(10, 10_000)  # 100.00 in October, nothing in September
    october = finalize(subscription, OCTOBER)
    assert lines(october) == [("per_unit", Decimal("100.00")), ("prepaid_credit", Decimal("-30.00"))]
    assert october.lines.get(model="prepaid_credit").charge["grants"] == [
        {"grant": mid_october.pk, "name": "Goodwill credit", "available": "30", "applied": "30"}
    ]
    assert balance(september_only) == Decimal("50")


@pytest.mark.django_db
def test_grants_are_drawn_soonest_to_expire_first_then_oldest_first(world, subscription, usage):
    never = goodwill(world, subscription, "100", moment(9, 1))
    older = goodwill(world, subscription, "40", moment(9, 2), expires_at=datetime(2027, 1, 1, tzinfo=UTC))
    newer = goodwill(world, subscription, "40", moment(9, 9), expires_at=datetime(2027, 1, 1, tzinfo=UTC))
    soonest = goodwill(world, subscription, "20", moment(9, 20), expires_at=datetime(2026, 12, 1, tzinfo=UTC))
    usage(9, 11_000)  # 110.00
    invoice = finalize(subscription, SEPTEMBER)
    drawn = [(row["grant"], row["applied"]) for row in invoice.lines.get(model="prepaid_credit").charge["grants"]]
    assert drawn == [(soonest.pk, "20"), (older.pk, "40"), (newer.pk, "40"), (never.pk, "10")]
    assert [balance(grant) for grant in (soonest, older, newer, never)] == [0, 0, 0, Decimal("90")]


@pytest.mark.django_db
def test_credits_are_the_customers_and_in_the_invoices_currency_only(world, api_plan, subscription, subscribe, usage):
    goodwill(world, subscription, "50", moment(9, 2))
    # Another customer's grant is not drawn by A1's invoice.
    other = subscribe(api_plan(code="api-a2"), customer=world.customer_a2, started_at="2026-09-01T00:00:00Z")
    goodwill(world, other, "1000", moment(9, 2))
    usage(9, 10_000)
    invoice = finalize(subscription, SEPTEMBER)
    assert lines(invoice) == [("per_unit", Decimal("100.00")), ("prepaid_credit", Decimal("-50.00"))]
    with pytest.raises(ValidationError) as error:
        goodwill(world, subscription, "5", moment(10, 2), currency="EUR")
    assert "billed in USD, not EUR" in error.value.message_dict["currency"][0]


# --- finalizing, re-finalizing, voiding -------------------------------------------------------


@pytest.mark.django_db
def test_a_draft_shows_the_estimate_but_spends_nothing(world, subscription, usage):
    usage(9, 12_000)
    draft = invoice_refresh_draft(subscription=subscription, period=SEPTEMBER)
    assert draft.total == Decimal("120.00")
    grant = credit_pack_purchase(
        actor=world.admin_a, subscription=subscription, pack="Starter 500", granted_at=moment(9, 15)
    )
    # The purchase shows on the period's draft at once.
    draft = Invoice.objects.get(pk=draft.pk)
    assert draft.is_draft and draft.total == Decimal("450.00")
    assert lines(draft)[1:] == [("credit_pack", Decimal("450.00")), ("prepaid_credit", Decimal("-120.00"))]
    assert not CreditDrawdown.objects.exists()
    assert balance(grant) == Decimal("500")
    # Refreshing again neither doubles the lines nor spends anything.
    draft = invoice_refresh_draft(subscription=subscription, period=SEPTEMBER)
    assert len(lines(draft)) == 3 and draft.total == Decimal("450.00")
    assert not CreditDrawdown.objects.exists()


@pytest.mark.django_db
def test_refinalizing_does_not_draw_twice(world, subscription, usage):
    grant = goodwill(world, subscription, "500", moment(9, 2))
    usage(9, 12_000)
    invoice = finalize(subscription, SEPTEMBER)
    again = invoice_finalize(invoice=invoice)
    assert again.number == invoice.number
    summary = period_close(period=SEPTEMBER)
    assert summary.already_final == 1 and summary.finalized == 0
    assert list(CreditDrawdown.objects.values_list("amount", flat=True)) == [Decimal("120.000")]
    assert balance(grant) == Decimal("380")


@pytest.mark.django_db
def test_voiding_an_invoice_gives_its_credits_back(world, subscription, usage):
    grant = goodwill(world, subscription, "500", moment(9, 2))
    usage(9, 12_000)
    september = finalize(subscription, SEPTEMBER)
    assert balance(grant) == Decimal("380")
    invoice_void(actor=world.manager, invoice=september, reason="billed in error")
    assert balance(grant) == Decimal("500")
    assert CreditDrawdown.objects.filter(invoice=september).exists()  # kept for the record, not counted
    usage(10, 45_000)  # 450.00: the released credits pay it all
    october = finalize(subscription, OCTOBER)
    assert lines(october) == [("per_unit", Decimal("450.00")), ("prepaid_credit", Decimal("-450.00"))]
    assert october.total == Decimal("0.00")
    assert balance(grant) == Decimal("50")


@pytest.mark.django_db
def test_two_invoices_finalized_in_turn_never_spend_the_same_credits(world, api_plan, subscription, subscribe, usage):
    flat = api_plan(code="support", charges=[{"model": "flat", "amount": "400"}])
    second = subscribe(flat, started_at="2026-09-01T00:00:00Z")
    grant = goodwill(world, subscription, "500", moment(9, 2))
    usage(9, 40_000)  # 400.00 on the first subscription; the second's flat fee is 400.00 too
    drafts = [invoice_refresh_draft(subscription=s, period=SEPTEMBER) for s in (subscription, second)]
    # Both estimates see the whole balance …
    assert [d.total for d in drafts] == [Decimal("0.00"), Decimal("0.00")]
    close(SEPTEMBER)
    first, other = (invoice_finalize(invoice=draft) for draft in drafts)
    # … but the second finalization sees what the first drew.
    assert first.total == Decimal("0.00") and other.total == Decimal("300.00")
    assert other.lines.get(model="prepaid_credit").description == "Prepaid credits applied: 100.00 of 100.00 available"
    assert balance(grant) == Decimal("0")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs one write transaction at a time anyway")
def test_concurrent_finalizations_wait_for_the_credits(world, api_plan, subscription, subscribe, usage):
    """The first finalization holds its transaction open; the second, started meanwhile, must
    wait for the grants' lock and then see the first's drawdowns, not the stale balance."""
    second = subscribe(api_plan(code="support", charges=[{"model": "flat", "amount": "400"}]))
    grant = goodwill(world, subscription, "500", moment(10, 2))
    usage(10, 40_000)
    drafts = [invoice_refresh_draft(subscription=s, period=OCTOBER) for s in (subscription, second)]
    close(OCTOBER)
    holding, release = threading.Event(), threading.Event()
    results, errors = {}, []

    def first():
        try:
            with transaction.atomic():
                results["first"] = invoice_finalize(invoice=drafts[0])
                holding.set()
                release.wait(timeout=30)
        except BaseException as error:
            errors.append(error)
        finally:
            holding.set()
            connection.close()

    def other():
        try:
            holding.wait(timeout=30)
            results["second"] = invoice_finalize(invoice=drafts[1])
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=other)]
    for thread in threads:
        thread.start()
    holding.wait(timeout=30)
    time.sleep(0.5)
    assert "second" not in results  # waiting for the first to commit
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert results["first"].total == Decimal("0.00")
    assert results["second"].total == Decimal("300.00")
    assert sum(CreditDrawdown.objects.values_list("amount", flat=True)) == Decimal("500")
    assert balance(grant) == Decimal("0")


# --- who may buy, grant and see ---------------------------------------------------------------


@pytest.mark.django_db
def test_who_may_buy_packs_and_grant_goodwill(world, subscription):
    for user in (world.rep_a, world.customer_viewer_a1):
        with pytest.raises(PermissionDenied):
            credit_pack_purchase(actor=user, subscription=subscription, pack="Starter 500")
    # Outside their scope the subscription simply does not exist for them.
    for user in (world.admin_b, world.customer_user_a2):
        with pytest.raises(ValidationError) as error:
            credit_pack_purchase(actor=user, subscription=subscription, pack="Starter 500")
        assert "No such subscription" in error.value.message_dict["subscription"][0]
    for user in (world.admin_a, world.customer_user_a1):
        with pytest.raises(PermissionDenied):
            credit_grant_create(actor=user, subscription=subscription, credits="10", reason="mine")
    assert not CreditGrant.objects.exists()
    bought = [
        credit_pack_purchase(actor=user, subscription=subscription, pack="Starter 500")
        for user in (world.manager, world.admin_a, world.customer_user_a1)
    ]
    assert [grant.granted_by for grant in bought] == [world.manager, world.admin_a, world.customer_user_a1]
    gift = credit_grant_create(actor=world.manager, subscription=subscription, credits="25.5", reason="outage")
    assert (gift.source, gift.name, gift.price, gift.credits, gift.reason) == (
        "goodwill", "Goodwill credit", Decimal(0), Decimal("25.5"), "outage",
    )  # fmt: skip


@pytest.mark.django_db
def test_bad_grants_are_refused_naming_the_field(world, subscription):
    def refused(function, **fields) -> dict:
        with pytest.raises(ValidationError) as error:
            function(actor=world.manager, subscription=subscription, **fields)
        return error.value.message_dict

    assert refused(credit_pack_purchase, pack="Gold") == {
        "pack": ["api v1 offers no pack named 'Gold'; its packs: 'Starter 500', 'Big 5000'."]
    }
    assert refused(credit_pack_purchase, pack="Starter 500", currency="EUR")["currency"]
    for credits in ("0", "-5", "abc", "1.005"):
        assert list(refused(credit_grant_create, credits=credits, reason="x")) == ["credits"], credits
    assert refused(credit_grant_create, credits="5", reason=" ") == {
        "reason": ["Required: say why the credits are granted, it is kept for audit."]
    }
    assert list(refused(credit_grant_create, credits="5", reason="x", expires_at=moment(9, 1))) == ["expires_at"]
    assert list(refused(credit_pack_purchase, pack="Starter 500", granted_at=moment(8, 31))) == ["subscription"]
    close(SEPTEMBER)  # a purchase in a closed period could never be billed
    assert "is closed" in refused(credit_pack_purchase, pack="Starter 500", granted_at=moment(9, 15))["granted_at"][0]
    assert not CreditGrant.objects.exists()


# --- the API ----------------------------------------------------------------------------------


def _login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _post(client, body):
    return client.post("/api/v1/credit-grants/", body, content_type="application/json")


@pytest.mark.django_db
def test_api_buys_a_pack_and_shows_its_balance(world, client, subscription, usage):
    _login(client, world.customer_user_a1)
    created = _post(client, {"subscription": subscription.external_id, "pack": "Starter 500"})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert {k: body[k] for k in ("customer", "subscription", "source", "name", "currency", "credits", "price")} == {
        "customer": "cus_a1", "subscription": subscription.external_id, "source": "purchase",
        "name": "Starter 500", "currency": "USD", "credits": "500.00", "price": "450.00",
    }  # fmt: skip
    assert body["balance"] == "500.00" and body["granted_by"] == "cust-a1@test.example"
    assert "pack" not in body
    # The pack is billed on this month's invoice (the current period, still open).
    assert CreditGrant.objects.get(pk=body["id"]).granted_at.month == datetime.now(tz=UTC).month

    # A goodwill grant made in September is drawn by September's invoice: the balance follows.
    grant = goodwill(world, subscription, "200", moment(9, 2))
    usage(9, 12_000)
    finalize(subscription, SEPTEMBER)
    listing = client.get("/api/v1/credit-grants/").json()
    assert {row["id"]: row["balance"] for row in listing["results"]} == {body["id"]: "500.00", grant.pk: "80.00"}
    detail = client.get(f"/api/v1/credit-grants/{grant.pk}/").json()
    assert (detail["source"], detail["credits"], detail["balance"], detail["reason"]) == (
        "goodwill", "200.00", "80.00", "outage",
    )  # fmt: skip
    invoice = Invoice.objects.get(period="2026-09")
    credit_line = client.get(f"/api/v1/invoices/{invoice.pk}/").json()["lines"][-1]
    assert (credit_line["model"], credit_line["metric"], credit_line["quantity"], credit_line["amount"]) == (
        "prepaid_credit", None, "120", "-120.00",
    )  # fmt: skip


@pytest.mark.django_db
def test_api_goodwill_grants_are_for_managers(world, client, subscription):
    body = {"subscription": subscription.external_id, "credits": "50", "reason": "sorry"}
    for user in (world.admin_a, world.customer_user_a1):
        assert _post(_login(client, user), body).status_code == 403
    for user in (world.rep_a, world.customer_viewer_a1):
        response = _post(_login(client, user), {"subscription": subscription.external_id, "pack": "Starter 500"})
        assert response.status_code == 403
    assert not CreditGrant.objects.exists()
    _login(client, world.manager)
    created = _post(client, {**body, "expires_at": "2027-06-01T00:00:00Z"})
    assert created.status_code == 201, created.json()
    assert (created.json()["source"], created.json()["credits"], created.json()["price"]) == (
        "goodwill",
        "50.00",
        "0.00",
    )
    assert created.json()["expires_at"] == "2027-06-01T00:00:00Z"


@pytest.mark.django_db
def test_api_bad_input_answers_400_naming_the_field(world, client, api_plan, subscription, subscribe):
    other = subscribe(api_plan(code="api-a2"), customer=world.customer_a2)
    _login(client, world.customer_user_a1)
    unknown = _post(client, {"subscription": subscription.external_id, "pack": "Gold"})
    assert unknown.status_code == 400 and "'Starter 500', 'Big 5000'" in unknown.json()["pack"][0]
    foreign = _post(client, {"subscription": other.external_id, "pack": "Starter 500"})
    assert foreign.status_code == 400 and "does not exist" in foreign.json()["subscription"][0]
    neither = _post(client, {"subscription": subscription.external_id})
    assert neither.status_code == 400 and "Required" in neither.json()["pack"][0]
    _login(client, world.manager)
    for credits in ("0", "-1", "ten"):
        response = _post(client, {"subscription": subscription.external_id, "credits": credits, "reason": "x"})
        assert response.status_code == 400 and list(response.json()) == ["credits"], credits
    both = _post(client, {"subscription": subscription.external_id, "pack": "Starter 500", "credits": "5"})
    assert both.status_code == 400 and "not both" in both.json()["pack"][0]
    currency = _post(client, {"subscription": subscription.external_id, "pack": "Starter 500", "currency": "EUR"})
    assert currency.status_code == 400 and "billed in USD" in currency.json()["currency"][0]
    assert not CreditGrant.objects.exists()


@pytest.mark.django_db
def test_each_role_sees_only_its_customers_credits(world, client, api_plan, subscription, subscribe):
    b_subscription = subscribe(api_plan(code="api-b"), customer=world.customer_b1)
    a_grant = credit_pack_purchase(actor=world.manager, subscription=subscription, pack="Starter 500")
    b_grant = credit_pack_purchase(actor=world.manager, subscription=b_subscription, pack="Starter 500")
    expected = {
        world.manager: {a_grant.pk, b_grant.pk},
        world.admin_a: {a_grant.pk},
        world.rep_a: {a_grant.pk},  # cus_a1 is assigned to rep A
        world.customer_user_a1: {a_grant.pk},
        world.customer_user_a2: set(),
        world.admin_b: {b_grant.pk},
    }
    for user, visible in expected.items():
        _login(client, user)
        assert {row["id"] for row in client.get("/api/v1/credit-grants/").json()["results"]} == visible, user.email
        for grant in (a_grant, b_grant):
            status = 200 if grant.pk in visible else 404
            assert client.get(f"/api/v1/credit-grants/{grant.pk}/").status_code == status, (user.email, grant)
            assert client.get(reverse("credit_grant_detail", args=[grant.pk])).status_code == status
        page = client.get(reverse("credit_grant_list")).content.decode()
        export = b"".join(client.get(reverse("credit_grant_list"), {"export": "csv"}).streaming_content).decode()
        assert ("B1 Corp" in page) is (b_grant.pk in visible), user.email
        assert ("B1 Corp" in export) is (b_grant.pk in visible), user.email
        assert ("A1 Corp" in export) is (a_grant.pk in visible), user.email


# --- the pages --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_buy_page_lists_the_packs_of_your_subscriptions_and_buys_one(
    world, client, api_plan, subscription, subscribe
):
    b_subscription = subscribe(api_plan(code="api-b"), customer=world.customer_b1)
    _login(client, world.customer_user_a1)
    page = client.get(reverse("credit_pack_buy")).content.decode()
    assert "A1 Corp · sub_cus_a1_api — Starter 500: 500.00 credits for 450.00 USD" in page
    assert "Big 5000: 5,000.00 credits for 4,000.00 USD" in page
    assert "B1 Corp" not in page
    # Another customer's offer cannot be smuggled in.
    refused = client.post(reverse("credit_pack_buy"), {"offer": f"{b_subscription.pk}:Starter 500"})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not CreditGrant.objects.exists()
    response = client.post(reverse("credit_pack_buy"), {"offer": f"{subscription.pk}:Starter 500"})
    grant = CreditGrant.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("credit_grant_detail", args=[grant.pk])
    assert (grant.customer, grant.name, grant.granted_by) == (world.customer_a1, "Starter 500", world.customer_user_a1)
    detail = client.get(response["Location"]).content.decode()
    assert "Starter 500" in detail and "500.00" in detail and "450.00" in detail
    listing = client.get(reverse("credit_grant_list"), {"customer": world.customer_a1.pk}).content.decode()
    assert "Starter 500" in listing and reverse("credit_pack_buy") in listing


@pytest.mark.django_db
def test_invoice_and_grant_pages_explain_the_credits(world, client, subscription, usage):
    grant = credit_pack_purchase(
        actor=world.manager, subscription=subscription, pack="Starter 500", granted_at=moment(9, 15)
    )
    usage(9, 300_000)  # 3,000.00: more than the credits
    invoice = finalize(subscription, SEPTEMBER)
    _login(client, world.customer_user_a1)
    body = client.get(reverse("invoice_detail", args=[invoice.pk])).content.decode()
    assert "Credit pack “Starter 500” bought 2026-09-15: 500.00 USD of prepaid credits" in body
    assert "Prepaid credits applied: 500.00 of 500.00 available" in body
    assert '<td class="number">-500.00</td>' in body and '<td class="number">300000</td>' in body
    assert reverse("credit_grant_detail", args=[grant.pk]) in body
    page = client.get(reverse("credit_grant_detail", args=[grant.pk])).content.decode()
    assert invoice.number in page and "-500.00" not in page
    assert "<strong>0.00</strong>" in page  # the balance


# --- the demo ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_packs_are_bought_once_before_their_month_closes(world, api_plan, subscribe, usage):
    from prm.operations.demo_credits import seed_credits

    buyer = factories.CustomerFactory(reseller=world.partner_a, external_id="cus_harbor_labs", name="Harbor Labs")
    subscription = subscribe(api_plan(), customer=buyer, started_at="2026-08-01T00:00:00Z")
    now = datetime(2026, 11, 24, 8, tzinfo=UTC)
    first = seed_credits(now=now, actor=world.manager)
    assert (first.grants, first.bought_now) == (1, 1)
    again = seed_credits(now=now, actor=world.manager)
    assert (again.grants, again.bought_now) == (1, 0)
    grant = CreditGrant.objects.get()
    assert (grant.subscription, grant.name, grant.granted_at) == (subscription, "Starter 500", moment(9, 15, 9))
    # The month it was bought in bills it and draws on it.
    usage(9, 1_000, customer="cus_harbor_labs")
    period_close(period=SEPTEMBER)
    september = Invoice.objects.get(subscription=subscription, period="2026-09")
    assert lines(september)[1:] == [("credit_pack", Decimal("450.00")), ("prepaid_credit", Decimal("-10.00"))]
    # A demo database whose months were closed before credits existed buys nothing it could not bill.
    CreditDrawdown.objects.all().delete()
    CreditGrant.objects.all().delete()
    assert seed_credits(now=now, actor=world.manager).bought_now == 0
