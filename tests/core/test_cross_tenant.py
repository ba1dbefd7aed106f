"""The one generic cross-tenant test.

It walks every portal URL and every API route as a user of partner A against partner B's
objects, as a rep against customers not assigned to them, as a customer against another
customer, and anonymously. A new URL, API route or tenant model that this file does not know
fails `test_every_url_is_classified` / `test_every_api_route_is_classified` /
`test_every_tenant_model_is_checked`, so nothing new slips past it.
"""

import io
from datetime import UTC, datetime

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from prm.accounts.models import ApiKey, Invitation, User
from prm.accounts.services import api_key_create, invitation_create
from prm.api_urls import router
from prm.billing.credits import credit_grant_create
from prm.billing.models import CreditDrawdown, CreditGrant, CreditNote, Invoice, InvoiceLine, Recommendation
from prm.billing.services import credit_note_create, invoice_finalize, invoice_refresh_draft
from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.core.tenancy import tenant_models
from prm.customers.models import Customer, Subscription, SubscriptionChange
from prm.deals.models import DealRegistration
from prm.enablement.models import Certification, Course, Lesson, LessonCompletion, Question, QuizAttempt, Resource
from prm.enablement.services import (
    course_create,
    lesson_create,
    lesson_mark_read,
    question_create,
    quiz_attempt_submit,
    resource_create,
)
from prm.incentives.accrual import accrue_invoice
from prm.incentives.models import CommissionEntry, CommissionRule, MdfBudget, MdfRequest, Payout, Statement
from prm.incentives.rules import commission_rule_create
from prm.notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from prm.notifications.services import notify
from prm.notifications.webhooks import webhook_endpoint_create
from prm.partners.models import (
    ApplicationComment,
    OnboardingItem,
    OnboardingTask,
    OnboardingTemplate,
    Partner,
    PartnerApplication,
    PartnerStageChange,
    PartnerTierChange,
    TargetMarket,
    Tier,
    TierEvaluation,
)
from prm.plans.models import Metric, Plan, PlanVersion
from prm.usage.alerts import alert_record, alert_rule_create
from prm.usage.ingest import events_ingest
from prm.usage.models import Alert, AlertRule, QuarantinedEvent, UsageAmendment, UsageEvent, UsageRollup, UsageUpload
from prm.usage.parsing import cloudevent
from prm.usage.services import event_void
from prm.usage.uploads import usage_csv_upload

# Portal pages that show one object, by the model whose pk they take, and how they are reached.
OBJECT_URLS = {
    "notification_open": (Notification, "get"),  # a person's own: another's answers 404
    # Webhook endpoints: a partner's own (its admins) or the vendor's (managers only).
    "webhook_detail": (WebhookEndpoint, "get"),
    "webhook_edit": (WebhookEndpoint, "get"),
    "webhook_ping": (WebhookEndpoint, "post"),
    "webhook_rotate_secret": (WebhookEndpoint, "post"),
    "webhook_deactivate": (WebhookEndpoint, "post"),
    "webhook_delivery_resend": (WebhookDelivery, "post"),
    "partner_detail": (Partner, "get"),
    "partner_edit": (Partner, "get"),
    "customer_detail": (Customer, "get"),
    "customer_edit": (Customer, "get"),
    "invitation_revoke": (Invitation, "post"),
    "api_key_revoke": (ApiKey, "post"),
    "usage_event_detail": (UsageEvent, "get"),
    "usage_event_void": (UsageEvent, "post"),
    "usage_event_replace": (UsageEvent, "post"),
    "quarantine_reprocess": (QuarantinedEvent, "post"),
    "quarantine_discard": (QuarantinedEvent, "post"),
    "usage_upload_report": (UsageUpload, "get"),
    "alert_rule_edit": (AlertRule, "get"),
    "alert_detail": (Alert, "get"),
    "alert_acknowledge": (Alert, "post"),
    "metric_edit": (Metric, "get"),  # the catalogue: visible to all, editable by managers (403)
    "plan_detail": (Plan, "get"),  # the catalogue too
    "plan_edit": (Plan, "get"),
    "invoice_detail": (Invoice, "get"),
    "invoice_void": (Invoice, "post"),
    "invoice_credit": (Invoice, "post"),
    "credit_grant_detail": (CreditGrant, "get"),
    "recommendation_detail": (Recommendation, "get"),
    "recommendation_dismiss": (Recommendation, "post"),
    "subscription_detail": (Subscription, "get"),
    "subscription_change_plan": (Subscription, "post"),
    "subscription_change_commitment": (Subscription, "post"),
    "subscription_end": (Subscription, "post"),
    "subscription_change_cancel": (SubscriptionChange, "post"),
    "subscription_change_preview": (Subscription, "get"),  # the price impact of a change (prm/operations)
    "subscription_change_approve": (SubscriptionChange, "post"),  # managers decide; others who see it: 403
    "subscription_change_reject": (SubscriptionChange, "post"),
    "tier_edit": (Tier, "get"),  # the catalogue: visible to all, editable by managers (403)
    "tier_evaluation_detail": (TierEvaluation, "get"),
    "tier_evaluation_confirm": (TierEvaluation, "post"),
    "tier_evaluation_dismiss": (TierEvaluation, "post"),
    "application_detail": (PartnerApplication, "get"),  # the vendor's: a partner's user does not find it
    "application_comment": (PartnerApplication, "post"),
    "application_approve": (PartnerApplication, "post"),
    "application_reject": (PartnerApplication, "post"),
    "onboarding_task_complete": (OnboardingTask, "post"),
    "target_market_edit": (TargetMarket, "get"),
    "target_market_delete": (TargetMarket, "post"),
    "statement_detail": (Statement, "get"),  # ?export=csv too: the same scoped lookup
    "statement_approve": (Statement, "post"),
    "statement_payout": (Statement, "post"),
    "deal_detail": (DealRegistration, "get"),
    "deal_approve": (DealRegistration, "post"),
    "deal_reject": (DealRegistration, "post"),
    "deal_lost": (DealRegistration, "post"),
    "deal_proposal": (DealRegistration, "post"),
    "deal_won": (DealRegistration, "post"),
    "mdf_request_detail": (MdfRequest, "get"),
    "mdf_request_approve": (MdfRequest, "post"),
    "mdf_request_reject": (MdfRequest, "post"),
    "mdf_request_claim": (MdfRequest, "post"),
    "mdf_request_paid": (MdfRequest, "post"),
    "mdf_request_proof": (MdfRequest, "get"),
    "mdf_budget_edit": (MdfBudget, "get"),  # the vendor's: a partner's user does not find it
    "commission_rule_detail": (CommissionRule, "get"),  # the program: visible to all signed in
    "commission_rule_revise": (CommissionRule, "get"),  # … revised by managers (403)
    # Courses and resources are unlocked by tier: above a partner's tier they are not found (404).
    "course_detail": (Course, "get"),
    "course_edit": (Course, "get"),
    "course_quiz_submit": (Course, "post"),
    "lesson_create": (Course, "get"),
    "question_create": (Course, "get"),
    "lesson_edit": (Lesson, "get"),
    "lesson_mark_read": (Lesson, "post"),
    "question_edit": (Question, "get"),
    "quiz_attempt_detail": (QuizAttempt, "get"),
    "resource_edit": (Resource, "get"),
    "resource_download": (Resource, "get"),
}
# Portal pages that list (or sum up) rows; each must leave other tenants' rows out.
LIST_URLS = [
    "home", "partner_list", "customer_list", "user_list", "invitation_list", "api_keys", "metric_list",
    "usage_event_list", "quarantine_list", "usage_upload", "plan_list", "quote_calculator", "invoice_list",
    "credit_grant_list", "statement_list", "notification_inbox", "notification_preferences", "webhook_list",
    "recommendation_list",
    "tier_list", "tier_evaluation_list",
    "subscription_change_list", "contract_policy",  # the program's contract rules: read by all, set by managers
    "alert_rule_list", "alert_list",
    "application_list", "onboarding_list", "coverage",
    "commission_rule_list", "commission_list",
    "deal_list", "mdf_request_list", "mdf_budget_list",
    "course_catalogue", "certification_list", "enablement_progress", "resource_list",
    "audit_log",  # channel managers only: 403 for everyone else (tests/security/test_audit_log.py)
]  # fmt: skip
# Create pages: reachable by those allowed, 403 for the rest, never leaking other tenants' choices.
CREATE_URLS = [
    "partner_create", "customer_create", "invitation_create", "metric_create", "plan_create", "credit_pack_buy",
    "tier_create",
    "target_market_create",
    "commission_rule_create",
    "deal_create", "mdf_request_create", "mdf_budget_create",
    "course_create", "resource_create",
    "alert_rule_create",
    "webhook_create",
]  # fmt: skip
# Actions on many rows at once, for channel managers only.
MANAGER_ACTIONS = ["quarantine_reprocess_all"]
# Actions on the signed-in person's own rows only (their notifications): nothing of anyone else's.
OWN_ACTIONS = ["notification_read_all"]
# Open to anyone (or to exactly the person holding a secret link).
PUBLIC_URLS = {"healthz", "invitation_accept", "api_schema", "api_docs", "partner_apply"}
# Third-party URL sets with their own checks (allauth's sign-in pages, Django's admin).
FOREIGN_NAMESPACES_OR_PREFIXES = ("account_", "mfa_", "admin:")

# API routes by basename: the model, and how to find another tenant's object.
API_ROUTES = {
    "partner": Partner,
    "customer": Customer,
    "user": User,
    "invitation": Invitation,
    "tier": None,  # the program's catalogue: everyone signed in reads it
    "tier-evaluation": TierEvaluation,
    "application": PartnerApplication,
    "onboarding-task": OnboardingTask,
    "target-market": TargetMarket,
    "metric": None,
    "plan": None,
    "quarantine": QuarantinedEvent,
    "alert-rule": AlertRule,
    "alert": Alert,
    "subscription": Subscription,
    "subscription-change": SubscriptionChange,
    "invoice": Invoice,
    "credit-note": CreditNote,
    "credit-grant": CreditGrant,
    "recommendation": Recommendation,
    "statement": Statement,
    "payout": Payout,
    "commission-rule": None,  # the program's rules: everyone signed in reads them
    "course": None,  # the vendor's content, unlocked by tier (tests/enablement checks the tiers)
    "certification": Certification,
    "asset": None,
    "commission": CommissionEntry,
    "deal": DealRegistration,
    "mdf-request": MdfRequest,
    "mdf-budget": MdfBudget,  # the vendor's: a partner's user finds none
    "notification": None,  # a person's own, not a tenant's: tests/notifications/test_api.py checks it
    "webhook": WebhookEndpoint,
    "audit-entry": None,  # channel managers only, 403 for everyone else: tests/security/test_audit_log.py
}
# API paths outside the router, each checked in test_api_paths_outside_the_router_are_scoped.
API_PATHS = {
    "events", "events-batch", "event-void", "event-replace", "usage", "quotes", "deal-won", "webhook-ping-exact",
    "subscription-change-preview",
    "contract-policy",  # the program's rules: read by everyone signed in, set by managers (403 for others)
}  # fmt: skip
# Rows only channel managers see, even when a partner's key caused them.
VENDOR_ONLY = {QuarantinedEvent, PartnerApplication, ApplicationComment, TargetMarket}


def _portal_url_names(resolver=None, namespace=""):
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if "api/v1" in str(entry.pattern):
                continue
            child_ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= _portal_url_names(entry, child_ns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}{entry.name}")
    return names


def test_every_url_is_classified():
    known = set(OBJECT_URLS) | set(LIST_URLS) | set(CREATE_URLS) | set(MANAGER_ACTIONS) | set(OWN_ACTIONS)
    known |= PUBLIC_URLS
    unknown = {
        name
        for name in _portal_url_names()
        if name not in known and not name.startswith(FOREIGN_NAMESPACES_OR_PREFIXES)
    }
    assert unknown == set(), f"add these URLs to the cross-tenant test: {sorted(unknown)}"


def test_every_api_route_is_classified():
    assert {basename for _prefix, _viewset, basename in router.registry} == set(API_ROUTES)
    from prm import api_urls

    plain = {entry.name for entry in api_urls.urlpatterns if isinstance(entry, URLPattern) and entry.name}
    router_names = {entry.name for entry in router.urls}
    assert plain - router_names == API_PATHS


def _usage_of_b(world):
    """An event of partner B's customer (voided once, so an amendment exists) and a quarantined one."""
    metric, _ = Metric.objects.get_or_create(
        code="calls", defaults={"name": "Calls", "unit": "call", "aggregation": "sum", "field": "calls"}
    )
    events = [
        cloudevent(i, {"specversion": "1.0", "id": f"b-{i}", "source": "test", "type": "calls", "subject": subject,
                       "time": "2026-11-01T10:00:00Z", "data": {"calls": 3}})
        for i, subject in enumerate(["cus_b1", "cus_b1", "cus_unknown"])
    ]  # fmt: skip
    events_ingest(events, actor=world.admin_b)
    voided = UsageEvent.objects.get(event_id="b-1")
    event_void(actor=world.manager, event=voided, reason="test")
    plan = Plan.objects.create(code="p", name="P", currency="USD")
    version = PlanVersion.objects.create(plan=plan, version=1, charges=[{"model": "flat", "amount": "10"}])
    subscription = Subscription.objects.create(
        customer=world.customer_b1, plan_version=version, external_id="sub_b1", started_at="2026-11-01T00:00:00Z"
    )
    # October 2026, closed: a finalized invoice with a credit note; November's draft is the estimate.
    earlier = Subscription.objects.create(
        customer=world.customer_b1, plan_version=version, external_id="sub_b1_oct",
        started_at="2026-10-01T00:00:00Z", ended_at="2026-11-01T00:00:00Z",
    )  # fmt: skip
    # Goodwill credits granted in October: the finalized invoice draws 4 of its 10.
    grant = credit_grant_create(
        actor=world.manager, subscription=earlier, credits="4", reason="test",
        granted_at=datetime(2026, 10, 15, tzinfo=UTC),
    )  # fmt: skip
    ClosedBillingPeriod.objects.get_or_create(period="2026-10")
    final = invoice_finalize(invoice=invoice_refresh_draft(subscription=earlier, period=BillingPeriod(2026, 10)))
    draft = invoice_refresh_draft(subscription=subscription, period=BillingPeriod(2026, 11))
    # B's commission on the finalized invoice: 10 % of its 10.00 flat fee (and −0.40 on the credits).
    commission_rule_create(
        actor=world.manager, code="share", name="Share", kind="revenue_share", rate="10", effective_from="2026-01"
    )
    commission = accrue_invoice(final)[0]
    # B's paid October statement. Made directly, without entries: the ledger's rows are the accrual's to make.
    statement = Statement.objects.create(
        partner=world.partner_b, period="2026-10", currency="USD", status="paid", entries_total=3, total=3
    )
    payout = Payout.objects.create(
        statement=statement, amount=3, currency="USD", reference="TRX-B", paid_at="2026-11-15T10:00:00Z"
    )
    csv_file = io.BytesIO(b"event_id,customer,metric,timestamp,value\nb-csv-1,cus_b1,calls,2026-11-01T11:00:00Z,2\n")
    return {
        Subscription: subscription,
        SubscriptionChange: SubscriptionChange.objects.create(
            subscription=subscription, kind="commitment", effective_at="2026-12-01T00:00:00Z", to_commitment=5
        ),
        UsageUpload: usage_csv_upload(actor=world.admin_b, file=csv_file, filename="b.csv"),
        UsageEvent: UsageEvent.objects.get(event_id="b-0"),
        UsageAmendment: UsageAmendment.objects.get(event=voided),
        UsageRollup: UsageRollup.objects.filter(customer=world.customer_b1).earliest("hour"),
        QuarantinedEvent: QuarantinedEvent.objects.get(event_id="b-2"),
        Invoice: final,
        InvoiceLine: draft.lines.get(),
        CreditNote: credit_note_create(actor=world.manager, invoice=final, amount="1", reason="test"),
        CreditGrant: grant,
        CreditDrawdown: CreditDrawdown.objects.get(grant=grant, invoice=final),
        Statement: statement,
        Payout: payout,
        CommissionEntry: commission,
    }


def _tier_rows_of_b(world):
    """B's tier history and a proposed upgrade (made directly: tests/operations computes real evidence)."""
    upper, _ = Tier.objects.get_or_create(code="upper", defaults={"name": "Upper", "rank": 9})
    evidence = {
        "period": "2026-10", "program_currency": "USD", "active_customers": 0, "growth_percent": None,
        "trailing_revenue": {"by_currency": {}, "converted": {}, "total": "0.00"}, "tiers": [],
    }  # fmt: skip
    evaluation, _ = TierEvaluation.objects.get_or_create(
        partner=world.partner_b, period="2026-10",
        defaults={"current_tier": world.partner_b.tier, "proposed_tier": upper, "direction": "up",
                  "status": "proposed", "evidence": evidence},
    )  # fmt: skip
    change = PartnerTierChange.objects.create(
        partner=world.partner_b, to_tier=world.partner_b.tier, reason="test", changed_at="2026-01-01T00:00:00Z"
    )
    return {TierEvaluation: evaluation, PartnerTierChange: change}


def _sell_rows_of_b(world):
    """A deal registered by B's rep and an MDF request of B (made directly: B's tier has no MDF)."""
    plan, _ = Plan.objects.get_or_create(code="deal-plan", defaults={"name": "Deal plan", "currency": "USD"})
    deal, _ = DealRegistration.objects.get_or_create(
        partner=world.partner_b, domain="bravo-prospect.example",
        defaults={"registered_by": world.rep_b, "company": "Bravo Prospect", "company_key": "bravo prospect",
                  "plan": plan, "expected_close": "2027-01-31"},
    )  # fmt: skip
    request, _ = MdfRequest.objects.get_or_create(
        partner=world.partner_b, activity="B's webinar",
        defaults={"requested_by": world.admin_b, "activity_date": "2026-11-20", "period": "2026-Q4", "amount": 100,
                  "currency": "USD"},
    )  # fmt: skip
    return {DealRegistration: deal, MdfRequest: request}


def _lifecycle_rows_of_b(world):
    """The application B came from (with a comment), B's onboarding task, and a target market (the vendor's)."""
    application, _ = PartnerApplication.objects.get_or_create(
        partner=world.partner_b,
        defaults={"company": "Beta Partners", "website": "beta.example.com", "country": "US", "industry": "software",
                  "region": "north_america", "specialties": "test", "expected_customers": 1, "contact_name": "B",
                  "contact_email": "admin-b@test.example", "status": "approved"},
    )  # fmt: skip
    comment = ApplicationComment.objects.create(application=application, author=world.manager, text="test")
    template, _ = OnboardingTemplate.objects.get_or_create(tier=world.partner_b.tier, defaults={"name": "test"})
    item, _ = OnboardingItem.objects.get_or_create(template=template, key="agreement", defaults={"title": "Agree"})
    task, _ = OnboardingTask.objects.get_or_create(partner=world.partner_b, item=item)
    market, _ = TargetMarket.objects.get_or_create(
        industry="retail", region="latam", defaults={"goal_partners": 1, "goal_consumption": 10}
    )
    return {PartnerApplication: application, ApplicationComment: comment, OnboardingTask: task, TargetMarket: market}


def _enablement_of_b(world):
    """B's admin read a lesson and passed a quiz (a certification); and, above every partner's tier,
    a course (with a lesson and a question) and a resource. Made once through the services."""
    if not Course.objects.filter(code="xt-open").exists():
        top, _ = Tier.objects.get_or_create(code="xt-top", defaults={"name": "Top", "rank": 20})
        for code, min_tier in (("xt-open", None), ("xt-top", top)):
            course = course_create(actor=world.manager, code=code, title=code, min_tier=min_tier, is_published=True)
            lesson_create(actor=world.manager, course=course, title="Lesson", body_markdown="Text")
            question_create(actor=world.manager, course=course, text="Q?", options=[("yes", True), ("no", False)])
        resource_create(
            actor=world.manager, title="Top kit", kind="campaign_kit", url="https://kit.example/", min_tier=top
        )
        course = Course.objects.get(code="xt-open")
        lesson_mark_read(actor=world.admin_b, lesson=course.lessons.get())
        question = course.questions.get()
        answers = {str(question.pk): [question.options.get(is_correct=True).pk]}
        quiz_attempt_submit(actor=world.admin_b, course=course, answers=answers, email=False)
    attempt = QuizAttempt.objects.get(person=world.admin_b, course__code="xt-open")
    top_course = Course.objects.get(code="xt-top")
    owned = {LessonCompletion: LessonCompletion.objects.get(person=world.admin_b), QuizAttempt: attempt,
             Certification: attempt.certification}  # fmt: skip
    above_tier = {Course: top_course, Lesson: top_course.lessons.get(), Question: top_course.questions.get(),
                  Resource: Resource.objects.get(title="Top kit")}  # fmt: skip
    return owned, above_tier


def _webhooks_of_b(world):
    """B's webhook endpoint (made by B's admin) with one delivery (made directly: nothing is sent)."""
    endpoint = WebhookEndpoint.objects.filter(partner=world.partner_b).first() or webhook_endpoint_create(
        actor=world.admin_b, url="https://hooks.beta.example/prm", event_types=["*"], description="B's hook"
    )
    delivery = endpoint.deliveries.first() or WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="00000000-0000-4000-8000-00000000000b", event_type="invoice.finalized", body="{}"
    )
    return {WebhookEndpoint: endpoint, WebhookDelivery: delivery}


def _alerts_of_b(world):
    """A usage rule B's admin set for B's customer, and an alert it fired (recorded directly: the
    evaluation's figures are tested in tests/operations/test_alerting.py)."""
    metric, _ = Metric.objects.get_or_create(
        code="calls", defaults={"name": "Calls", "unit": "call", "aggregation": "sum", "field": "calls"}
    )
    rule = alert_rule_create(
        actor=world.admin_b, customer=world.customer_b1, metric=metric, measure="usage", basis="absolute", threshold=1
    )
    alert = alert_record(
        rule=rule, customer=world.customer_b1, metric=metric, measure="usage", basis="absolute",
        period_start=datetime(2026, 11, 1, tzinfo=UTC), period_end=datetime(2026, 12, 1, tzinfo=UTC), threshold=1,
        limit=1, observed=3, unit="call", message="B1 Corp used 3 call of Calls",
        fired_at=datetime(2026, 11, 2, tzinfo=UTC),
    )  # fmt: skip
    return {AlertRule: rule, Alert: alert}


def _recommendation_of_b(world):
    """Advice for B's customer (made directly: tests/billing/test_recommendations.py computes real figures)."""
    subscription = Subscription.objects.get(external_id="sub_b1")
    recommendation, _ = Recommendation.objects.get_or_create(
        subscription=subscription,
        defaults={
            "customer": world.customer_b1, "kind": "commitment", "current_plan_version": subscription.plan_version,
            "current_commitment": 10, "target_commitment": 5, "period": "2026-10", "periods": [], "currency": "USD",
            "actual_total": 30, "alternative_total": 15, "saving": 15, "saving_percent": 50,
            "computed_at": datetime(2026, 11, 1, tzinfo=UTC),
        },
    )  # fmt: skip
    return {Recommendation: recommendation}


def _owned_by_b(world):
    """One row of every tenant model that belongs to partner B (or its customer)."""
    invitation, _token = invitation_create(
        invited_by=world.admin_b, email="new-b@test.example", role="partner_rep", partner=world.partner_b
    )
    return {
        Partner: world.partner_b,
        Customer: world.customer_b1,
        User: world.customer_user_b1,
        Invitation: invitation,
        PartnerStageChange: PartnerStageChange.objects.create(
            partner=world.partner_b, to_stage="sell", reason="test", changed_at="2026-01-01T00:00:00Z"
        ),
        **_tier_rows_of_b(world),
        **_usage_of_b(world),
        **_lifecycle_rows_of_b(world),
        **_sell_rows_of_b(world),
        **_enablement_of_b(world)[0],
        **_alerts_of_b(world),
        **_webhooks_of_b(world),
        **_recommendation_of_b(world),
    }


@pytest.mark.django_db
def test_every_tenant_model_is_checked(world):
    owned = _owned_by_b(world)
    assert set(tenant_models()) == set(owned), "give _owned_by_b a row of each new tenant model"
    for model, row in owned.items():
        for outsider in (world.admin_a, world.rep_a, world.customer_user_a1):
            assert not model.objects.visible_to(outsider).filter(pk=row.pk).exists(), (model, outsider)
        # Positive control: the manager sees it, and so does B's admin (unless only the vendor may).
        assert model.objects.visible_to(world.manager).filter(pk=row.pk).exists(), model
        owner_sees = model.objects.visible_to(world.admin_b).filter(pk=row.pk).exists()
        assert owner_sees is (model not in VENDOR_ONLY), model


def _foreign_objects(world):
    """(user, object they must not reach) for every model a portal URL takes."""
    invitation_b, _ = invitation_create(
        invited_by=world.admin_b, email="someone-b@test.example", role="partner_rep", partner=world.partner_b
    )
    key_b, _ = api_key_create(user=world.admin_b, name="B's key")
    usage_b = _usage_of_b(world)
    evaluation_b = _tier_rows_of_b(world)[TierEvaluation]
    lifecycle_b = _lifecycle_rows_of_b(world)
    sell_b = _sell_rows_of_b(world)
    budget = MdfBudget.objects.create(tier=world.partner_b.tier, period="2026-Q4", amount=1000, currency="USD")
    enablement_b, above_tier = _enablement_of_b(world)
    alerts_b = _alerts_of_b(world)
    webhooks_b = _webhooks_of_b(world)
    recommendation_b = _recommendation_of_b(world)[Recommendation]
    # The vendor's endpoint: no partner's user finds it.
    vendor_hook = webhook_endpoint_create(actor=world.manager, url="https://hooks.vendor.example/", event_types=["*"])
    cases = []
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        cases += [(user, world.partner_b), (user, world.customer_b1), (user, invitation_b), (user, key_b)]
        cases += [(user, usage_b[UsageEvent]), (user, usage_b[QuarantinedEvent]), (user, usage_b[UsageUpload])]
        cases += [(user, usage_b[Invoice]), (user, usage_b[CreditGrant])]
        cases += [(user, usage_b[Subscription]), (user, usage_b[SubscriptionChange])]
        cases += [(user, recommendation_b)]
        cases += [(user, evaluation_b)]
        cases += [(user, usage_b[Statement])]
        cases += [(user, lifecycle_b[PartnerApplication]), (user, lifecycle_b[OnboardingTask])]
        cases += [(user, lifecycle_b[TargetMarket])]
        cases += [(user, sell_b[DealRegistration]), (user, sell_b[MdfRequest]), (user, budget)]
        cases += [(user, enablement_b[QuizAttempt]), *((user, row) for row in above_tier.values())]
        cases += [(user, alerts_b[AlertRule]), (user, alerts_b[Alert])]
        cases += [(user, webhooks_b[WebhookEndpoint]), (user, webhooks_b[WebhookDelivery]), (user, vendor_hook)]
    # A rep sees only the customers assigned to them; a customer only itself.
    notification_b = notify(users=[world.admin_b], kind="test", title="For B only", email=False)[0]
    cases += [(user, notification_b) for user in (world.admin_a, world.rep_a, world.customer_user_a1, world.manager)]
    cases += [(world.rep_a, world.customer_a2), (world.customer_user_a1, world.customer_a2)]
    cases += [(world.customer_user_a1, world.partner_a)]
    # A rep sees only the deals they registered, not their admin's.
    deal_of_admin_a = DealRegistration.objects.create(
        partner=world.partner_a, registered_by=world.admin_a, company="Admin A's prospect", company_key="admin a s",
        domain="admin-a-prospect.example", plan=sell_b[DealRegistration].plan, expected_close="2027-01-31",
    )  # fmt: skip
    cases += [(world.rep_a, deal_of_admin_a)]
    return cases


@pytest.mark.django_db
def test_object_urls_answer_404_across_tenants(world, client):
    checked = 0
    for user, obj in _foreign_objects(world):
        assert not isinstance(obj, Metric)
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        for name, (model, method) in OBJECT_URLS.items():
            if not isinstance(obj, model):
                continue
            url = reverse(name, args=[obj.pk])
            response = getattr(client, method)(url)
            assert response.status_code == 404, (user.email, name, obj, response.status_code)
            if method == "get" and name.endswith("_edit"):
                assert client.post(url, {"name": "hijacked"}).status_code == 404
            checked += 1
    assert checked >= 40
    world.customer_b1.refresh_from_db()
    assert world.customer_b1.name == "B1 Corp"


@pytest.mark.django_db
def test_object_urls_are_reachable_in_scope(world, client):
    """The positive control: the same URLs work for someone who may see the object."""
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("partner_detail", args=[world.partner_a.pk])).status_code == 200
    assert client.get(reverse("customer_detail", args=[world.customer_a2.pk])).status_code == 200
    assert client.get(reverse("customer_edit", args=[world.customer_a2.pk])).status_code == 200
    client.force_login(world.rep_a, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("customer_detail", args=[world.customer_a1.pk])).status_code == 200
    # A rep may look but not change: 403, because the object is visible to them.
    assert client.get(reverse("customer_edit", args=[world.customer_a1.pk])).status_code == 403
    client.force_login(world.customer_user_a1, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("customer_detail", args=[world.customer_a1.pk])).status_code == 200


@pytest.mark.django_db
def test_list_pages_leave_other_tenants_out(world, client):
    _owned_by_b(world)
    outsiders = {
        world.admin_a: ["Beta Partners", "B1 Corp", "cust-b1@test.example", "new-b@test.example"],
        world.rep_a: ["Beta Partners", "B1 Corp", "A2 Corp", "cust-a2@test.example"],
        world.customer_user_a1: ["Beta Partners", "B1 Corp", "A2 Corp", "cust-a2@test.example"],
    }
    for user, forbidden in outsiders.items():
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        for name in LIST_URLS:
            response = client.get(reverse(name))
            assert response.status_code in (200, 403), (user.email, name, response.status_code)
            body = response.content.decode()
            for text in forbidden:
                assert text not in body, (user.email, name, text)
            # CSV exports are lists too.
            if response.status_code == 200 and name.endswith("_list"):
                export = b"".join(client.get(reverse(name), {"export": "csv"}).streaming_content).decode()
                for text in forbidden:
                    assert text not in export, (user.email, name, "csv", text)
    # Positive control: the manager's lists do show B's rows.
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert "Beta Partners" in client.get(reverse("partner_list")).content.decode()
    assert "B1 Corp" in client.get(reverse("customer_list")).content.decode()


@pytest.mark.django_db
def test_filter_choices_do_not_leak_other_partners(world, client):
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get(reverse("customer_list")).content.decode()
    assert "Alpha Partners" in body and "Beta Partners" not in body
    # Filtering on B's id finds nothing rather than B's customers.
    response = client.get(reverse("customer_list"), {"reseller": world.partner_b.pk})
    assert "B1 Corp" not in response.content.decode()


@pytest.mark.django_db
def test_create_pages_refuse_roles_without_the_right(world, client):
    expectations = {
        world.manager: {"partner_create": 200, "customer_create": 200, "invitation_create": 200, "metric_create": 200},
        world.admin_a: {"partner_create": 403, "customer_create": 200, "invitation_create": 200, "metric_create": 403},
        world.rep_a: {"partner_create": 403, "customer_create": 403, "invitation_create": 403, "metric_create": 403},
        world.customer_user_a1: {
            "partner_create": 403,
            "customer_create": 403,
            "invitation_create": 200,
            "metric_create": 403,
        },
        world.customer_viewer_a1: {
            "partner_create": 403,
            "customer_create": 403,
            "invitation_create": 403,
            "metric_create": 403,
        },
    }
    for user, statuses in expectations.items():
        statuses["plan_create"] = 200 if user.is_manager else 403  # the catalogue is the vendor's
        # Credit packs: bought by managers, partner admins and customer admins, not reps or viewers.
        statuses["credit_pack_buy"] = 200 if user.is_manager or user.is_partner_admin or user.is_customer_admin else 403
        statuses["commission_rule_create"] = 200 if user.is_manager else 403  # the program is the vendor's
        statuses["deal_create"] = 200 if user.is_partner_user else 403  # partners register deals, managers decide
        statuses["mdf_request_create"] = 200 if user.is_partner_admin else 403  # (a page saying when not eligible)
        statuses["mdf_budget_create"] = 200 if user.is_manager else 403
        statuses["target_market_create"] = 200 if user.is_manager else 403  # the strategy too
        statuses["course_create"] = statuses["resource_create"] = 200 if user.is_manager else 403  # enablement
        statuses["alert_rule_create"] = 403 if user.role == "customer_viewer" else 200  # viewers only read alerts
        statuses["webhook_create"] = 200 if user.is_manager or user.is_partner_admin else 403
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        for name, status in statuses.items():
            response = client.get(reverse(name))
            assert response.status_code == status, (user.email, name, response.status_code)
            if status == 200 and not user.is_manager:
                assert "Beta Partners" not in response.content.decode()
                assert "B1 Corp" not in response.content.decode()


def _api_list_url(basename):
    return reverse(f"{basename}-list")


@pytest.mark.django_db
def test_api_routes_scope_every_action(world, client):
    owned = _owned_by_b(world)
    # The vendor's rows (no tenant's): no partner's or customer's user finds them.
    owned[MdfBudget] = MdfBudget.objects.create(
        tier=world.partner_b.tier, period="2026-Q4", amount=1000, currency="USD"
    )
    cases = [(world.admin_a, owned), (world.rep_a, owned), (world.customer_user_a1, owned)]
    cases.append((world.rep_a, {Customer: world.customer_a2}))
    cases.append((world.customer_user_a1, {Customer: world.customer_a2, User: world.customer_user_a2}))
    for user, foreign in cases:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        for basename, model in API_ROUTES.items():
            if model is None or model not in foreign:
                continue
            obj = foreign[model]
            listing = client.get(_api_list_url(basename), {"page_size": 500}).json()
            assert obj.pk not in {row["id"] for row in listing["results"]}, (user.email, basename)
            detail = reverse(f"{basename}-detail", args=[obj.pk])
            assert client.get(detail).status_code == 404, (user.email, basename)
            assert client.patch(detail, {"name": "x"}, content_type="application/json").status_code in (404, 405)


@pytest.mark.django_db
def test_api_lists_are_paginated_and_scoped(world, client):
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get("/api/v1/customers/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert sorted(row["external_id"] for row in body["results"]) == ["cus_a1", "cus_a2"]
    assert body["count"] == 2
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/api/v1/customers/").json()["count"] == 3


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(world, client):
    login_url = reverse("account_login")
    for name in LIST_URLS + CREATE_URLS:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(login_url), name
    for name in MANAGER_ACTIONS + OWN_ACTIONS:
        response = client.post(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(login_url), name
    for name, (model, method) in OBJECT_URLS.items():
        obj = {Partner: world.partner_a, Customer: world.customer_a1}.get(model)
        if obj is None:
            continue
        response = getattr(client, method)(reverse(name, args=[obj.pk]))
        assert response.status_code == 302 and response["Location"].startswith(login_url), name
    for basename in API_ROUTES:
        response = client.get(_api_list_url(basename))
        assert response.status_code == 401, basename
        assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_public_urls_stay_public(client):
    assert client.get(reverse("healthz")).json()["status"] == "ok"
    assert client.get(reverse("account_login")).status_code == 200
    assert client.get(reverse("partner_apply")).status_code == 200


@pytest.mark.django_db
def test_api_paths_outside_the_router_are_scoped(world, client):
    owned = _owned_by_b(world)
    event_b = owned[UsageEvent]
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        listing = client.get("/api/v1/events", {"page_size": 500})
        assert listing.status_code == 200
        assert event_b.pk not in {row["id"] for row in listing.json()["results"]}, user.email
        usage = client.get(
            "/api/v1/usage",
            {"customer": "cus_b1", "metric": "calls", "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
        )
        assert usage.status_code == 404, user.email
        for name in ("event-void", "event-replace"):
            response = client.post(reverse(name, args=[event_b.pk]), {"reason": "x"}, content_type="application/json")
            assert response.status_code == 404, (user.email, name)
        won = reverse("deal-won", args=[owned[DealRegistration].pk])
        response = client.post(won, {"external_id": "cus_x"}, content_type="application/json")
        assert response.status_code == 404, (user.email, "deal-won")
        preview = reverse("subscription-change-preview", args=[owned[Subscription].pk])
        response = client.post(preview, {"kind": "commitment", "commitment": "5"}, content_type="application/json")
        assert response.status_code == 404, (user.email, "subscription-change-preview")
        ping = reverse("webhook-ping-exact", args=[owned[WebhookEndpoint].pk])
        assert client.post(ping).status_code == 404, (user.email, "webhook-ping-exact")
        policy = reverse("contract-policy")
        assert client.get(policy).status_code == 200, (user.email, "contract-policy")
        response = client.patch(policy, {"approval": "all"}, content_type="application/json")
        assert response.status_code == 403, (user.email, "contract-policy")
    event_b.refresh_from_db()
    assert event_b.status == "active"
    assert client.get(reverse("contract-policy")).json()["approval"] == "none"
    # Sending usage: partners yes (their own customers), customers no.
    client.force_login(world.customer_user_a1, backend="django.contrib.auth.backends.ModelBackend")
    for name in ("events", "events-batch"):
        assert client.post(reverse(name), "{}", content_type="application/json").status_code == 403
    # Positive control: B's admin sees its event and usage.
    client.force_login(world.admin_b, backend="django.contrib.auth.backends.ModelBackend")
    ids = {row["id"] for row in client.get("/api/v1/events").json()["results"]}
    assert event_b.pk in ids
    usage = client.get(
        "/api/v1/usage",
        {"customer": "cus_b1", "metric": "calls", "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
    )
    assert usage.json()["buckets"] == [{"start": "2026-11-01T00:00:00+00:00", "value": "5"}]  # 3 by API, 2 by CSV


@pytest.mark.django_db
def test_manager_actions_refuse_everyone_else(world, client):
    usage_b = _usage_of_b(world)
    for user in (world.admin_a, world.admin_b, world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        for name in MANAGER_ACTIONS:
            assert client.post(reverse(name)).status_code == 403, (user.email, name)
        assert client.get(reverse("metric_edit", args=[Metric.objects.get().pk])).status_code == 403
        assert client.get(reverse("plan_edit", args=[Plan.objects.get().pk])).status_code == 403
    assert QuarantinedEvent.objects.get(pk=usage_b[QuarantinedEvent].pk).status == "pending"
