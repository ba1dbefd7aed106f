"""List pages and the home page run a fixed number of queries, however many rows there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prm.accounts.models import User
from prm.notifications.services import unread_count
from tests import factories


@pytest.fixture(autouse=True)
def _bell_counted(world):
    """The navigation's unread count is cached per person (one query on a cold cache, then none):
    counted here first, so each pin is the page's own queries, whichever page a test opens first."""
    for user in User.objects.all():
        unread_count(user)


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(captured)


PAGES = ["home", "partner_list", "customer_list", "user_list", "invitation_list"]
# Pinned counts for a manager (session, user, membership, then the page's own queries).
# A change here is a change in a page's cost: look at why before updating it.
# A CSV export (`?export=csv`) runs no COUNT: it is not paginated (one query fewer than its page's).
EXPECTED = {"home": 20, "partner_list": 8, "customer_list": 7, "user_list": 5, "invitation_list": 4}


@pytest.mark.django_db
def test_list_pages_query_count_is_pinned_and_flat(world, client):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    before = {name: _queries(client, reverse(name)) for name in PAGES}
    # Ten times the rows: more partners, customers with reps, people.
    for _ in range(10):
        partner = factories.PartnerFactory(tier=world.partner_a.tier)
        rep = factories.partner_rep(partner)
        factories.CustomerFactory.create_batch(3, reseller=partner, assigned_rep=rep)
        factories.partner_admin(partner)
    after = {name: _queries(client, reverse(name)) for name in PAGES}
    assert before == after
    assert before == EXPECTED


@pytest.mark.django_db
def test_csv_export_query_count_is_flat(world, client):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("customer_list") + "?export=csv"
    before = _queries(client, url)
    factories.CustomerFactory.create_batch(20, reseller=world.partner_b)
    assert _queries(client, url) == before


@pytest.mark.django_db
def test_credit_list_query_count_is_pinned_and_flat(world, client):
    """Each grant's balance comes from one prefetch of the finalized invoices' drawdowns."""
    from prm.billing.credits import credit_grant_create
    from prm.customers.models import Subscription
    from prm.plans.models import Plan, PlanVersion

    plan = Plan.objects.create(code="p", name="P", currency="USD")
    version = PlanVersion.objects.create(plan=plan, version=1, charges=[{"model": "flat", "amount": "10"}])

    def grants(customers):
        for customer in customers:
            subscription = Subscription.objects.create(
                customer=customer, plan_version=version, external_id=f"sub_{customer.external_id}",
                started_at="2026-01-01T00:00:00Z",
            )  # fmt: skip
            credit_grant_create(actor=world.manager, subscription=subscription, credits="5", reason="test")

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    grants([world.customer_a1])
    urls = [reverse("credit_grant_list"), reverse("credit_grant_list") + "?export=csv"]
    before = [_queries(client, url) for url in urls]
    grants(factories.CustomerFactory.create_batch(10, reseller=world.partner_b))
    assert [_queries(client, url) for url in urls] == before
    assert before == [7, 5]


@pytest.mark.django_db
def test_statement_list_query_count_is_pinned_and_flat(world, client):
    """Each statement's partner and payout are joined to it (select_related), not fetched row by row."""
    from prm.incentives.models import Payout, Statement

    def statements(partners):
        for partner in partners:
            statement = Statement.objects.create(
                partner=partner, period="2026-10", currency="USD", status="paid", entries_total=5, total=5
            )
            Payout.objects.create(
                statement=statement, amount=5, currency="USD", reference=f"TRX-{partner.pk}",
                paid_at="2026-11-15T10:00:00Z",
            )  # fmt: skip

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    statements([world.partner_a])
    urls = [reverse("statement_list"), reverse("statement_list") + "?export=csv"]
    before = [_queries(client, url) for url in urls]
    statements(factories.PartnerFactory.create_batch(10, tier=world.partner_a.tier))
    assert [_queries(client, url) for url in urls] == before
    assert before == [6, 4]


@pytest.mark.django_db
def test_tier_pages_query_counts_are_pinned_and_flat(world, client):
    """The tiers (each with its partner count) and the evaluations queue (figures read from the stored
    evidence, tiers and partner joined): the same queries for 1 row or 11."""
    from prm.partners.models import Tier, TierEvaluation

    upper = Tier.objects.create(code="upper", name="Upper", rank=2, min_trailing_revenue=1000)
    evidence = {"program_currency": "USD", "active_customers": 1, "growth_percent": "5.00",
                "trailing_revenue": {"total": "10.00"}}  # fmt: skip

    def evaluations(partners):
        for partner in partners:
            TierEvaluation.objects.create(
                partner=partner, period="2026-10", current_tier=partner.tier, proposed_tier=upper, direction="up",
                status="proposed", evidence=evidence,
            )  # fmt: skip

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    evaluations([world.partner_a])
    urls = [reverse("tier_list"), reverse("tier_evaluation_list"), reverse("tier_evaluation_list") + "?export=csv"]
    before = [_queries(client, url) for url in urls]
    evaluations(factories.PartnerFactory.create_batch(10, tier=world.partner_a.tier))
    Tier.objects.create(code="top", name="Top", rank=3)
    assert [_queries(client, url) for url in urls] == before
    assert before == [6, 6, 4]


@pytest.mark.django_db
def test_commission_pages_query_counts_are_pinned_and_flat(world, client):
    """The ledger (with this month's forecast over the live drafts) and the program's rules."""
    from django.utils import timezone

    from prm.billing.services import invoice_finalize, invoice_refresh_draft
    from prm.core.models import ClosedBillingPeriod
    from prm.core.periods import BillingPeriod
    from prm.customers.models import Subscription
    from prm.incentives.accrual import accrue_invoice
    from prm.incentives.rules import commission_rule_create
    from prm.plans.models import Plan, PlanVersion

    plan = Plan.objects.create(code="p", name="P", currency="USD")
    version = PlanVersion.objects.create(plan=plan, version=1, charges=[{"model": "flat", "amount": "10"}])
    for kind, fields in (("revenue_share", {"rate": "20"}), ("distributor_override", {"rate": "5"}),
                         ("new_customer_bonus", {"bonus_amount": "250", "currency": "USD"})):  # fmt: skip
        commission_rule_create(actor=world.manager, code=kind.replace("_", "-"), name=kind, kind=kind,
                               effective_from="2026-01", **fields)  # fmt: skip
    ClosedBillingPeriod.objects.create(period="2026-10")
    october, now = BillingPeriod(2026, 10), BillingPeriod.containing(timezone.now())

    def ledger(customers):
        """Each customer: October finalized and accrued, this month's draft live."""
        for customer in customers:
            subscription = Subscription.objects.create(
                customer=customer, plan_version=version, external_id=f"sub_{customer.external_id}",
                started_at="2026-10-01T00:00:00Z",
            )  # fmt: skip
            accrue_invoice(invoice_finalize(invoice=invoice_refresh_draft(subscription=subscription, period=october)))
            invoice_refresh_draft(subscription=subscription, period=now)

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    ledger([world.customer_a1])
    urls = [reverse("commission_list"), reverse("commission_list") + "?export=csv", reverse("commission_rule_list")]
    before = [_queries(client, url) for url in urls]
    distributor = factories.PartnerFactory(tier=world.partner_a.tier)
    for _ in range(5):
        partner = factories.PartnerFactory(tier=world.partner_a.tier, parent=distributor)
        ledger(factories.CustomerFactory.create_batch(2, reseller=partner, assigned_rep=factories.partner_rep(partner)))
    assert [_queries(client, url) for url in urls] == before
    assert before == [14, 4, 5]


@pytest.mark.django_db
def test_lifecycle_pages_query_counts_are_pinned_and_flat(world, client):
    """Applications (comment counts annotated), the onboarding pipeline (checklists and the team
    evidence prefetched) and market coverage: the same queries for 1 row or 11."""
    from decimal import Decimal

    from prm.partners.models import OnboardingItem, OnboardingTemplate, PartnerApplication, Stage, TargetMarket
    from prm.partners.services import onboarding_ensure, partner_application_comment

    template = OnboardingTemplate.objects.create(tier=world.partner_a.tier, name="Checklist")
    for order, key in enumerate(("agreement", "payout", "team"), start=1):
        OnboardingItem.objects.create(template=template, key=key, title=key, order=order, evidence="team_invited")

    regions = ["apac", "latam", "emea_north", "emea_south", "north_america"]

    def rows(n):
        for i in range(n):
            partner = factories.PartnerFactory(tier=world.partner_a.tier, stage=Stage.ONBOARD, region="apac")
            onboarding_ensure(partner)
            application = PartnerApplication.objects.create(
                company=partner.name, website=f"applicant-{partner.pk}.example", country="US", industry="software",
                region="apac", specialties="x", expected_customers=1, contact_name="X", contact_email="x@x.example",
            )  # fmt: skip
            partner_application_comment(actor=world.manager, application=application, text="ok")
            TargetMarket.objects.get_or_create(
                industry="software",
                region=regions[i % 5],
                defaults={"goal_partners": 1, "goal_consumption": Decimal(1)},
            )

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    rows(1)
    urls = [
        reverse("application_list"), reverse("application_list") + "?export=csv",
        reverse("onboarding_list"), reverse("onboarding_list") + "?export=csv", reverse("coverage"),
    ]  # fmt: skip
    before = [_queries(client, url) for url in urls]
    rows(10)
    assert [_queries(client, url) for url in urls] == before
    assert before == [6, 4, 8, 5, 6]


@pytest.mark.django_db
def test_enablement_pages_query_counts_are_pinned_and_flat(world, client, settings, tmp_path):
    """The catalogue (each course with its counts and the person's progress), certifications, the library
    and training progress: the same queries for one partner's people and courses or eleven's."""
    from django.core.cache import cache
    from django.core.files.base import ContentFile

    from prm.enablement.services import (
        course_create,
        lesson_create,
        question_create,
        quiz_attempt_submit,
        resource_create,
    )

    settings.MEDIA_ROOT = tmp_path

    def enablement(partners, n):
        course = course_create(actor=world.manager, code=f"course-{n}", title=f"Course {n}", is_published=True)
        lesson_create(actor=world.manager, course=course, title="Lesson", body_markdown="Text")
        question = question_create(
            actor=world.manager, course=course, text="Q?", options=[("yes", True), ("no", False)]
        )
        resource_create(
            actor=world.manager, title=f"Guide {n}", kind="guide", file=ContentFile(b"text", name=f"guide-{n}.txt")
        )
        for partner in partners:
            for person in (factories.partner_admin(partner), factories.partner_rep(partner)):
                answers = {str(question.pk): [question.options.get(is_correct=True).pk]}
                quiz_attempt_submit(actor=person, course=course, answers=answers, email=False)

    enablement([world.partner_a], 0)
    urls = [
        reverse("course_catalogue"), reverse("certification_list"), reverse("certification_list") + "?export=csv",
        reverse("resource_list"), reverse("enablement_progress"),
        reverse("enablement_progress") + f"?partner={world.partner_a.pk}",
    ]  # fmt: skip
    users = (world.manager, world.admin_a)

    def counts(user):
        cache.clear()  # the navigation's unread count is cached per person: the first page pays for it
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        # Progress: every partner and partner A's people for a manager; an admin's own partner and people.
        return [_queries(client, url) for url in (urls if user.is_manager else urls[:5])]

    before = {user: counts(user) for user in users}
    for n in range(1, 11):
        enablement([world.partner_a, factories.PartnerFactory(tier=world.partner_a.tier)], n)
    for user in users:
        assert counts(user) == before[user], user.email
    assert before == {world.manager: [5, 7, 4, 6, 6, 9], world.admin_a: [10, 8, 4, 7, 13]}


@pytest.mark.django_db
def test_sell_pages_query_counts_are_pinned_and_flat(world, client):
    """The deal pipeline (partner, plan and registrant joined; counts per status in one grouped query), MDF
    requests (partner joined) and MDF budgets (what each committed, one query for the page)."""
    from datetime import date

    from prm.deals.models import DealRegistration
    from prm.incentives.models import MdfBudget, MdfRequest
    from prm.partners.models import Tier
    from prm.plans.models import Plan

    plan = Plan.objects.create(code="p", name="P", currency="USD")
    gold = Tier.objects.create(code="gold", name="Gold", rank=5, mdf_eligible=True)

    def rows(partners):
        for partner in partners:
            rep = factories.partner_rep(partner)
            DealRegistration.objects.create(
                partner=partner, registered_by=rep, company=f"Prospect {partner.pk}",
                company_key=f"prospect {partner.pk}", domain=f"prospect-{partner.pk}.example", plan=plan,
                expected_close=date(2027, 1, 31),
            )  # fmt: skip
            budget, _ = MdfBudget.objects.get_or_create(
                tier=gold, period=f"20{30 + partner.pk % 5}-Q1", defaults={"amount": 1000, "currency": "USD"}
            )
            MdfRequest.objects.create(
                partner=partner, requested_by=rep, activity="Webinar", activity_date=date(2030, 1, 10),
                period=budget.period, amount=10, currency="USD", status="approved", budget=budget,
            )  # fmt: skip

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    rows([world.partner_a])
    urls = [
        reverse("deal_list"), reverse("deal_list") + "?export=csv", reverse("mdf_request_list"),
        reverse("mdf_request_list") + "?export=csv", reverse("mdf_budget_list"),
    ]  # fmt: skip
    before = [_queries(client, url) for url in urls]
    rows(factories.PartnerFactory.create_batch(10, tier=gold))
    assert [_queries(client, url) for url in urls] == before
    assert before == [7, 4, 6, 4, 8]
