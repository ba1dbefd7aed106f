"""The channel manager's dashboard: exact figures on a small program, the drill-downs behind them, the
growth table's CSV, and a number of queries that does not grow with the program.

The program (every amount worked out by hand below), program currency USD, EUR at 1.1:

- Alpha (world's partner A, tier Registered, stage sell): A1 Corp on "api" (0.50 USD a call) used
  1,000 calls in September (500.00) and 2,469 in October (1,234.50); A2 Corp, from October, 200 calls
  (100.00), then a 10.00 credit note on that invoice. Revenue: September 500.00, October
  1,234.50 + 100.00 − 10.00 = 1,324.50; twelve months 1,824.50 USD.
- Beta (partner B, tier Silver, stage accelerate): B1 Corp on "api-eur" (0.50 EUR a call), 2,000 calls
  in September (1,000.00 EUR → 1,100.00 USD) and 1,000 in October (500.00 EUR → 550.00 USD); twelve
  months 1,500.00 EUR → 1,650.00 USD (converted once, as the tier evaluation does).
- A 20 % revenue share: Alpha earns 100.00 (September) + 246.90 + 20.00 (October) = 366.90 USD; its
  clawback of the credit note (−2.00) is dated November, the open period, outside the window. Beta
  earns 200.00 + 100.00 = 300.00 EUR → 330.00 USD.
- Gamma (tier Registered, stage onboard), one of its two checklist items done: 50 %.
"""

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prm.billing.models import Invoice
from prm.billing.services import credit_note_create
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer
from prm.dashboards import manager
from prm.dashboards import manager_selectors as figures_of
from prm.deals.models import DealRegistration
from prm.enablement.services import course_create, lesson_create, lesson_mark_read, question_create, quiz_attempt_submit
from prm.incentives.models import MdfBudget, MdfRequest
from prm.incentives.rules import commission_rule_create
from prm.operations.period_close import period_close
from prm.partners.models import ExchangeRate, OnboardingItem, OnboardingTemplate, Partner, PartnerApplication, Tier
from prm.partners.services import onboarding_ensure, onboarding_task_complete
from prm.plans.services import plan_create
from tests import factories
from tests.billing.conftest import OCTOBER
from tests.dashboards.conftest import warm_unread_counts

SEPTEMBER = BillingPeriod(2026, 9)
API = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.5"}]


def _program(world, make_plan, subscribe, send):
    """The program of the module's docstring; returns Gamma, the onboarding partner."""
    registered = world.partner_a.tier
    silver = Tier.objects.create(code="silver", name="Silver", rank=2, min_trailing_revenue=Decimal(1000))
    Partner.objects.filter(pk=world.partner_b.pk).update(tier=silver)
    Customer.objects.filter(pk=world.customer_b1.pk).update(currency="EUR")
    world.customer_b1.refresh_from_db()
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("1.1"), updated_at=datetime(2026, 9, 1, tzinfo=UTC))
    commission_rule_create(
        actor=world.manager, code="share", name="Share", kind="revenue_share", rate="20", effective_from="2026-01"
    )
    usd = make_plan("api", API)
    eur = plan_create(actor=world.manager, code="api-eur", name="API EUR", currency="EUR", charges=API)
    subscribe(usd, customer=world.customer_a1, started_at="2026-09-01T00:00:00Z")
    subscribe(usd, customer=world.customer_a2, started_at="2026-10-01T00:00:00Z")
    subscribe(eur, customer=world.customer_b1, started_at="2026-09-01T00:00:00Z")
    send(
        ("cus_a1", "api_calls", "2026-09-10T10:00:00Z", {"calls": 1000}),
        ("cus_a1", "api_calls", "2026-10-02T10:00:00Z", {"calls": 2469}),
        ("cus_a2", "api_calls", "2026-10-03T10:00:00Z", {"calls": 200}),
        ("cus_b1", "api_calls", "2026-09-11T10:00:00Z", {"calls": 2000}),
        ("cus_b1", "api_calls", "2026-10-04T10:00:00Z", {"calls": 1000}),
    )
    period_close(period=SEPTEMBER)
    period_close(period=OCTOBER)
    credit_note_create(
        actor=world.manager, invoice=Invoice.objects.get(customer=world.customer_a2), amount="10", reason="Goodwill"
    )
    # The stages the funnel shows (the close moves partners on its evidence; set here after it).
    Partner.objects.filter(pk=world.partner_a.pk).update(stage="sell")
    Partner.objects.filter(pk=world.partner_b.pk).update(stage="accelerate")

    gamma = factories.PartnerFactory(name="Gamma Partners", tier=registered, stage="onboard")
    template = OnboardingTemplate.objects.create(tier=registered, name="Registered checklist")
    OnboardingItem.objects.create(template=template, key="agreement", title="Sign the agreement", order=1)
    OnboardingItem.objects.create(template=template, key="payout", title="Payout details", order=2)
    first = onboarding_ensure(gamma)[0]
    onboarding_task_complete(actor=world.manager, task=first)

    # One published course; Beta's admin holds its certification.
    course = course_create(actor=world.manager, code="basics", title="Basics", is_published=True)
    lesson_create(actor=world.manager, course=course, title="Lesson", body_markdown="Text")
    question = question_create(actor=world.manager, course=course, text="Q?", options=[("yes", True), ("no", False)])
    lesson_mark_read(actor=world.admin_b, lesson=course.lessons.get())
    quiz_attempt_submit(
        actor=world.admin_b, course=course, email=False,
        answers={str(question.pk): [question.options.get(is_correct=True).pk]},
    )  # fmt: skip

    # Work waiting for a manager, besides the close's draft statements and tier proposal.
    PartnerApplication.objects.create(
        company="Delta Consulting", website="delta.example.com", country="US", industry="software",
        region="north_america", specialties="integration", expected_customers=3, contact_name="D",
        contact_email="d@delta.example.com",
    )  # fmt: skip
    DealRegistration.objects.create(
        partner=world.partner_a, registered_by=world.rep_a, company="Prospect", company_key="prospect",
        domain="prospect.example", plan=usd, expected_close="2027-01-31",
    )  # fmt: skip
    budget = MdfBudget.objects.create(tier=registered, period="2026-Q4", amount=1000, currency="USD")
    MdfRequest.objects.create(
        partner=world.partner_a, activity="Spring roadshow", activity_date="2026-11-20", period="2026-Q4", amount=100,
        currency="USD",
    )  # fmt: skip
    MdfRequest.objects.create(
        partner=world.partner_a, activity="Autumn expo", activity_date="2026-11-21", period="2026-Q4", amount=100,
        currency="USD", status="claimed", budget=budget, claimed_amount=80,
    )  # fmt: skip
    send(("cus_nobody", "api_calls", "2026-11-02T10:00:00Z", {"calls": 1}), expect="quarantined")
    return gamma


@pytest.fixture
def program(world, make_plan, subscribe, send):
    return _program(world, make_plan, subscribe, send)


def _home(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response


# --- figures ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_program_figures_worked_example(world, program):
    reporting = figures_of.reporting_window()
    assert (reporting.period, reporting.closed) == (OCTOBER, True)
    assert reporting.names[0] == "2025-11" and reporting.names[-1] == "2026-10" and len(reporting.names) == 12

    figures = figures_of.program_figures(world.manager, reporting)
    alpha, beta = figures.partners[world.partner_a.pk], figures.partners[world.partner_b.pk]
    assert (alpha.revenue_in("2026-09"), alpha.revenue_in("2026-10"), alpha.trailing) == (
        Decimal("500.00"), Decimal("1324.50"), Decimal("1824.50"),
    )  # fmt: skip
    # 1,000.00 EUR × 1.1 and 500.00 EUR × 1.1; the window's 1,500.00 EUR × 1.1 converted once.
    assert (beta.revenue_in("2026-09"), beta.revenue_in("2026-10"), beta.trailing) == (
        Decimal("1100.00"), Decimal("550.00"), Decimal("1650.00"),
    )  # fmt: skip
    assert (alpha.commission, beta.commission) == (Decimal("366.90"), Decimal("330.00"))
    assert figures.trailing_revenue == Decimal("3474.50")  # 1,824.50 + 1,650.00
    assert figures.trailing_commission == Decimal("696.90")  # 366.90 + 330.00
    assert figures.missing_rates == []

    stages = {stage.stage: (stage.partners, stage.revenue, stage.commission) for stage in figures.stages()}
    assert stages["sell"] == (1, Decimal("1824.50"), Decimal("366.90"))
    assert stages["accelerate"] == (1, Decimal("1650.00"), Decimal("330.00"))
    assert stages["onboard"] == (1, Decimal(0), Decimal(0))  # Gamma
    assert stages["recruit"] == stages["enable"] == stages["market"] == stages["incentivize"] == (0, 0, 0)

    by_tier = {tier.code: values for tier, values in figures.revenue_by_tier()}
    assert by_tier["registered"][-2:] == [Decimal("500.00"), Decimal("1324.50")]
    assert by_tier["silver"][-2:] == [Decimal("1100.00"), Decimal("550.00")]
    assert all(value == 0 for value in by_tier["registered"][:-2] + by_tier["silver"][:-2])

    assert [partner.name for partner in figures.top_partners()] == ["Alpha Partners", "Beta Partners"]
    growth = figures.growth()
    # Alpha: 1,324.50 − 500.00 = +824.50, 164.9 %; Beta: 550.00 − 1,100.00 = −550.00, −50.0 %.
    assert [(row.partner.name, row.change, row.growth_percent) for row in growth] == [
        ("Alpha Partners", Decimal("824.50"), Decimal("164.9")),
        ("Beta Partners", Decimal("-550.00"), Decimal("-50.0")),
    ]
    assert {tier.code: count for tier, count in figures.tier_distribution()} == {"registered": 2, "silver": 1}


@pytest.mark.django_db
def test_pending_work_and_program_health(world, program):
    pending = figures_of.pending_work(world.manager)
    # Statements: one draft per partner · period · currency (Alpha and Beta, September and October).
    # Tier proposals: Alpha's 1,824.50 trailing reaches Silver's 1,000 in October.
    assert (pending.applications, pending.deals, pending.mdf_requested, pending.mdf_claimed) == (1, 1, 1, 1)
    assert (pending.statements, pending.tier_proposals, pending.quarantined) == (4, 1, 1)
    assert pending.total == 10

    program_figures = figures_of.program_figures(world.manager, figures_of.reporting_window())
    enablement = figures_of.enablement_health(world.manager, program_figures)
    # Registered: Alpha (admin, rep) and Gamma (nobody): 2 people, none certified, 0 of 2 possible.
    # Silver: Beta (admin, rep): 1 of 2 possible. The program: 1 of 4, 25.0 %.
    rows = {tier.code: row for tier, row in enablement.tiers}
    assert (rows["registered"].partners, rows["registered"].people, rows["registered"].certified_people) == (2, 2, 0)
    assert rows["registered"].completion_percent == Decimal("0.0")
    assert (rows["silver"].partners, rows["silver"].people, rows["silver"].certified_people) == (1, 2, 1)
    assert (rows["silver"].partners_certified, rows["silver"].completion_percent) == (1, Decimal("50.0"))
    assert (enablement.program.people, enablement.program.completion_percent) == (4, Decimal("25.0"))

    onboarding = figures_of.onboarding_health(world.manager)
    assert (onboarding.partners, onboarding.complete, onboarding.in_progress, onboarding.average_percent) == (
        1, 0, 1, 50,
    )  # fmt: skip


@pytest.mark.django_db
def test_the_page_shows_the_figures_formatted(world, client, program):
    page = _home(client, world.manager).content.decode()
    context_kpis = {kpi["label"]: kpi for kpi in manager.context(_request(world.manager))["kpis"]}
    assert context_kpis["Consumption revenue, 12 months"]["value"] == "3,474.50"
    assert context_kpis["Commissions earned, 12 months"]["value"] == "696.90"
    # October 1,874.50 (1,324.50 + 550.00) against September 1,600.00 (500.00 + 1,100.00): +17.2 %.
    october = context_kpis["Revenue Oct 2026"]
    assert (october["value"], october["delta"], october["delta_class"]) == ("1,874.50", "+17.2 %", "delta-up")
    assert context_kpis["Waiting for you"]["value"] == "10"
    for text in ("3,474.50", "696.90", "1,874.50", "+17.2 %", "1,824.50", "1,650.00", "366.90", "330.00"):
        assert text in page, text
    # Every chart is on the page with its data, and plotly.js comes from our own static files.
    for chart_id in ("manager-funnel", "manager-revenue-by-tier", "manager-top-partners", "manager-tier-distribution"):
        assert f'id="{chart_id}"' in page and f'id="{chart_id}-data"' in page, chart_id
    assert "/static/vendor/plotly.min.js" in page
    assert "Nothing waits" not in page


@pytest.mark.django_db
def test_only_managers_get_this_dashboard(world, client, program):
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        page = _home(client, user).content.decode()
        assert "Program overview" not in page and "manager-funnel" not in page


# --- drill-downs -------------------------------------------------------------------------------------


def _request(user, **query):
    request = RequestFactory().get("/", query)
    request.user = user
    return request


def _listed_invoices(client, url) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    return set(re.findall(r">(INV-[^<]+)<", response.content.decode()))


@pytest.mark.django_db
def test_drill_downs_list_the_rows_behind_each_figure(world, client, program):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    context = manager.context(_request(world.manager))
    numbers = {invoice.customer.external_id + "/" + invoice.period: invoice.number
               for invoice in Invoice.objects.select_related("customer")}  # fmt: skip

    # The funnel's sell stage → the partner list filtered by it: Alpha only.
    (sell,) = [row for row in context["stages"] if row["stage"] == "sell"]
    assert sell["url"] == "/partners/?stage=sell"
    funnel_urls = dict(zip([row["label"] for row in context["stages"]], context["funnel_chart"].payload["data"][0]
                           ["customdata"], strict=True))  # fmt: skip
    assert funnel_urls["Sell"] == sell["url"]
    listed = client.get(sell["url"]).content.decode()
    assert "Alpha Partners" in listed and "Beta Partners" not in listed

    # The tier chart's Silver bar of October → Beta's customers' finalized October invoices.
    silver = next(trace for trace in context["tier_chart"].payload["data"] if trace["name"] == "Silver")
    assert silver["customdata"][-1] == "/invoices/?status=finalized&period=2026-10&reseller_tier=silver"
    assert silver["y"][-1] == 550.0
    assert _listed_invoices(client, silver["customdata"][-1]) == {numbers["cus_b1/2026-10"]}

    # The top partners' Alpha point of October → Alpha's two October invoices.
    alpha = next(trace for trace in context["top_chart"].payload["data"] if trace["name"] == "Alpha Partners")
    assert _listed_invoices(client, alpha["customdata"][-1]) == {numbers["cus_a1/2026-10"], numbers["cus_a2/2026-10"]}

    # The growth table's September cell of Alpha → Alpha's September invoice.
    table = context["growth_table"]
    first = table.rows[0]
    assert first.get_cell("name").count("Alpha Partners") == 1
    september_link = re.search(r'href="([^"]+)"', first.get_cell("previous")).group(1).replace("&amp;", "&")
    assert _listed_invoices(client, september_link) == {numbers["cus_a1/2026-09"]}

    # Pending work: each count links to its filtered list.
    urls = {item["label"]: item["url"] for item in context["pending"]}
    assert urls["MDF claims to pay"] == "/incentives/mdf/?status=claimed"
    listed = client.get(urls["MDF claims to pay"]).content.decode()
    assert "Autumn expo" in listed and "Spring roadshow" not in listed


@pytest.mark.django_db
def test_the_home_page_answers_the_csv_export(world, client, program):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("home"), {"export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[0] for row in rows] == ["Partner", "Alpha Partners", "Beta Partners"]


@pytest.mark.django_db
def test_growth_table_sorts_paginates_and_exports_csv(world, program):
    context = manager.context(_request(world.manager, **{"growth-sort": "growth"}))
    assert [row.record["name"] for row in context["growth_table"].rows] == ["Beta Partners", "Alpha Partners"]
    assert context["growth_export_url"] == "?export=csv&growth-sort=growth"
    assert context["growth_table"].columns["previous"].header == "Sep 2026"

    assert manager.export(_request(world.manager)) is None
    response = manager.export(_request(world.manager, export="csv", **{"growth-sort": "-change"}))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Partner", "Tier", "Stage", "Sep 2026", "Oct 2026", "Change", "Growth", "12 months", "Currency"]
    assert rows[1:] == [
        ["Alpha Partners", "Registered", "Sell", "500.00", "1324.50", "824.50", "164.9", "1824.50", "USD"],
        ["Beta Partners", "Silver", "Accelerate", "1100.00", "550.00", "-550.00", "-50.0", "1650.00", "USD"],
    ]


# --- queries -----------------------------------------------------------------------------------------


def _queries(client, user) -> int:
    warm_unread_counts()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("home"))
    assert response.status_code == 200
    return len(captured)


# Session, user, membership (3); the window, rates, tiers, partners, invoices, commissions (6); pending
# work (6); customers (1); enablement: people, certifications, courses (3); onboarding: partners, tasks (2).
EXPECTED_QUERIES = 21


@pytest.mark.django_db
def test_queries_are_pinned_and_flat_as_the_program_grows(world, client, program, subscribe):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    before = _queries(client, world.manager)

    # 20 more partners, each with two customers on a 25.00 USD flat plan, billed and closed in October.
    flat = plan_create(
        actor=world.manager, code="flat", name="Flat", currency="USD", charges=[{"model": "flat", "amount": "25"}]
    )
    for index in range(20):
        partner = factories.PartnerFactory(tier=world.partner_a.tier, stage=("sell", "onboard")[index % 2])
        for number in range(2):
            customer = factories.CustomerFactory(reseller=partner, external_id=f"more-{index}-{number}")
            subscribe(flat, customer=customer, started_at="2026-10-01T00:00:00Z")
    period_close(period=OCTOBER)  # again: finalizes the new subscriptions' October invoices
    assert Invoice.objects.filter(period="2026-10", status="finalized").count() == 3 + 40

    after = _queries(client, world.manager)
    figures = figures_of.program_figures(world.manager, figures_of.reporting_window())
    assert figures.revenue_in(OCTOBER) == Decimal("1874.50") + 40 * 25
    assert (before, after) == (EXPECTED_QUERIES, EXPECTED_QUERIES)

    # The growth table pages through its 22 partners ten at a time; the 20 new ones (nothing in
    # September to grow from) sort above every percentage.
    table = manager.context(_request(world.manager, **{"growth-page": "3"}))["growth_table"]
    assert (table.paginator.count, len(table.page.object_list)) == (22, 2)
    table = manager.context(_request(world.manager, **{"growth-sort": "-growth"}))["growth_table"]
    assert [row.record["growth"] for row in table.page.object_list][:2] == [None, None]
    assert "new" in table.rows[0].get_cell("growth")
