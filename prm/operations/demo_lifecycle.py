"""Demo data of the lifecycle's recruit, onboard and strategize steps, for `manage.py seed_demo`.

- `seed_applications`: applications waiting for review (one with the managers' comments), one
  approved (the demo partner in the onboard stage came from it) and one rejected with its reason;
- `seed_onboarding`: a checklist per tier (each tier's adds to the one below), every demo partner's
  tasks: all done for partners past onboarding, some for the one still onboarding;
- `seed_target_markets`: the demo partners' industry and region (from fixtures/demo.json), and
  seven target markets, some short of their goals.

Each is idempotent: rows are found by a natural key (an application by its domain, a checklist by
its tier, an item by its key, a target by its industry and region) and only missing ones are made,
so a second run writes nothing and what a manager changed while exploring stays as it is. New
applications go through the services (the managers are notified, the applicant emailed: the
console shows it), then their dates are set back so the demo has a history.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from prm.core.audit import audit_update
from prm.partners.models import (
    ApplicationComment,
    ApplicationStatus,
    Industry,
    OnboardingEvidence,
    OnboardingItem,
    OnboardingTask,
    OnboardingTemplate,
    Partner,
    PartnerApplication,
    PartnerStageChange,
    Region,
    Stage,
    TargetMarket,
    Tier,
)
from prm.partners.services import (
    onboarding_ensure,
    partner_application_comment,
    partner_application_reject,
    partner_application_submit,
    target_market_create,
)

# --- applications --------------------------------------------------------------------------------

RECEIVED = [
    {
        "fields": {
            "company": "Northstar Cloud Services", "website": "northstar-cloud.io", "country": "US",
            "industry": Industry.SOFTWARE, "region": Region.NORTH_AMERICA,
            "specialties": "Cloud migration, managed Kubernetes, FinOps", "expected_customers": 12,
            "contact_name": "Dana Whitfield", "contact_email": "dana@northstar-cloud.io",
            "message": "We run platform teams for 40 SaaS companies and want to resell metered APIs.",
        },
        "days_ago": 2,
        "comments": [],
    },
    {
        "fields": {
            "company": "Sakura Data Works", "website": "sakura-dataworks.jp", "country": "JP",
            "industry": Industry.MANUFACTURING, "region": Region.APAC,
            "specialties": "IoT integration for factories, OPC UA gateways", "expected_customers": 8,
            "contact_name": "Yui Tanaka", "contact_email": "yui.tanaka@sakura-dataworks.jp", "message": "",
        },
        "days_ago": 5,
        "comments": [
            "Strong fit for the manufacturing × APAC target: we are short of partners there.",
            "Asked for two customer references; they answered the same day.",
        ],
    },
    {
        "fields": {
            "company": "Andes Fintech Partners", "website": "andes-fintech.cl", "country": "CL",
            "industry": Industry.FINANCIAL_SERVICES, "region": Region.LATAM,
            "specialties": "Payments and open-banking integration", "expected_customers": 20,
            "contact_name": "Matías Rojas", "contact_email": "matias@andes-fintech.cl",
            "message": "Existing relationships with six regional banks.",
        },
        "days_ago": 9,
        "comments": ["Twenty customers in year one looks optimistic; worth a call before deciding."],
    },
]  # fmt: skip

REJECTED = {
    "fields": {
        "company": "Quickbuck Leads Ltd", "website": "quickbuck-leads.biz", "country": "GB",
        "industry": Industry.OTHER, "region": Region.EMEA_NORTH, "specialties": "Lead generation, cold outreach",
        "expected_customers": 500, "contact_name": "Gary Mills", "contact_email": "gary@quickbuck-leads.biz",
        "message": "We sell qualified leads to software vendors.",
    },
    "days_ago": 20,
    "decided_days_ago": 17,
    "comments": ["Reselling lead lists is not a partner model we support."],
    "reason": "The program is for partners who implement and support our platform for their customers; "
    "lead resale is not a model we support.",
}  # fmt: skip

# The demo partner still onboarding came in through the application form.
APPROVED = {
    "partner": "fjallvik-analytics.se",
    "specialties": "Clinical data platforms, analytics for hospitals",
    "expected_customers": 6,
    "contact_name": "Ingrid Lindqvist",
    "contact_email": "ingrid@fjallvik-analytics.se",
    "message": "We build analytics for Nordic hospital groups.",
    "note": "Welcome aboard: your channel manager will reach out this week.",
}


def seed_applications(*, actor, now: datetime) -> int:
    """Make the demo's applications that are missing; returns how many were made."""
    made = 0
    for entry in RECEIVED:
        if not PartnerApplication.objects.filter(website=entry["fields"]["website"]).exists():
            _submitted(entry, actor=actor, now=now)
            made += 1
    if not PartnerApplication.objects.filter(website=REJECTED["fields"]["website"]).exists():
        application = _submitted(REJECTED, actor=actor, now=now)
        partner_application_reject(actor=actor, application=application, reason=REJECTED["reason"])
        # Backdating, not a decision: the audit log has the rejection itself (only status is audited here).
        PartnerApplication.objects.filter(pk=application.pk).update(
            decided_at=now - timedelta(days=REJECTED["decided_days_ago"])
        )
        made += 1
    partner = Partner.objects.filter(website_domain=APPROVED["partner"]).first()
    if partner is not None and not PartnerApplication.objects.filter(partner=partner).exists():
        _approved(partner, actor=actor, now=now)
        made += 1
    return made


def _submitted(entry: dict, *, actor, now: datetime) -> PartnerApplication:
    with transaction.atomic():
        application = partner_application_submit(**entry["fields"])
        received_at = now - timedelta(days=entry["days_ago"])
        PartnerApplication.objects.filter(pk=application.pk).update(created_at=received_at)  # backdating, as above
        for hours, text in enumerate(entry["comments"], start=3):
            comment = partner_application_comment(actor=actor, application=application, text=text)
            ApplicationComment.objects.filter(pk=comment.pk).update(created_at=received_at + timedelta(hours=hours))
    return application


def _approved(partner: Partner, *, actor, now: datetime) -> PartnerApplication:
    """The application the partner came from (approving it now would make a second partner)."""
    joined = PartnerStageChange.objects.filter(partner=partner, to_stage=Stage.ONBOARD).order_by("changed_at").first()
    decided_at = joined.changed_at if joined else partner.created_at
    application = PartnerApplication(
        company=partner.name,
        website=partner.website_domain,
        country=partner.country,
        industry=partner.industry,
        region=partner.region or Region.EMEA_NORTH,
        specialties=APPROVED["specialties"],
        expected_customers=APPROVED["expected_customers"],
        contact_name=APPROVED["contact_name"],
        contact_email=APPROVED["contact_email"],
        message=APPROVED["message"],
        status=ApplicationStatus.APPROVED,
        decided_by=actor,
        decided_at=decided_at,
        decision_reason=APPROVED["note"],
        partner=partner,
        created_at=decided_at - timedelta(days=6),
    )
    application.full_clean()
    application.save()
    return application


# --- onboarding ----------------------------------------------------------------------------------

# (key, title, description, evidence); each tier's checklist is the one below it plus its own.
BASE_ITEMS = [
    ("agreement_accepted", "Partner agreement accepted", "Read and accept the partner program agreement.", ""),
    ("payout_details", "Payout details provided", "Bank details for commission payouts, checked by finance.", ""),
    ("profile_completed", "Company profile completed", "Country, region and industry on the partner profile.",
     OnboardingEvidence.PROFILE_COMPLETED),
    ("first_user_invited", "First team member invited", "Invite a colleague to the portal (sales or technical).",
     OnboardingEvidence.TEAM_INVITED),
]  # fmt: skip
TIER_ITEMS = {
    "silver": [("joint_business_plan", "Joint business plan agreed", "Targets and first campaigns for the year.", "")],
    "gold": [("executive_sponsor", "Executive sponsor named", "A sponsor on each side, introduced to each other.", "")],
    "platinum": [("quarterly_review", "Quarterly business review booked", "The first QBR is in both calendars.", "")],
}  # fmt: skip
PARTLY_DONE = 2  # items already done by the partner still onboarding


def seed_onboarding(*, actor) -> int:
    """Checklists per tier and every partner's tasks; returns the tasks marked done by this run."""
    now = timezone.now()
    items: list[tuple] = []
    for tier in Tier.objects.order_by("rank"):
        items += TIER_ITEMS.get(tier.code, [])
        template, _ = OnboardingTemplate.objects.get_or_create(tier=tier, defaults={"name": f"{tier.name} onboarding"})
        for order, (key, title, description, evidence) in enumerate(BASE_ITEMS + items, start=1):
            OnboardingItem.objects.get_or_create(
                template=template,
                key=key,
                defaults={"title": title, "description": description, "order": order, "evidence": evidence},
            )
    marked = 0
    stages = list(Stage)
    for partner in Partner.objects.select_related("tier").order_by("pk"):
        tasks = [task for task in onboarding_ensure(partner) if task.done_at is None]
        tasks.sort(key=lambda task: (task.item.order, task.pk))
        if partner.stage == Stage.RECRUIT:
            continue
        if stages.index(partner.stage) > stages.index(Stage.ONBOARD):
            done_at = _enabled_at(partner) or now
        else:
            already = OnboardingTask.objects.filter(partner=partner, done_at__isnull=False).count()
            tasks = tasks[: max(PARTLY_DONE - already, 0)]
            done_at = now - timedelta(days=2)
        marked += OnboardingTask.objects.filter(pk__in=[task.pk for task in tasks]).update(
            done_at=done_at, done_by=actor, note="Demo"
        )
    return marked


def _enabled_at(partner: Partner) -> datetime | None:
    moved = PartnerStageChange.objects.filter(partner=partner, to_stage=Stage.ENABLE).order_by("changed_at").first()
    return moved.changed_at if moved else None


# --- strategize ------------------------------------------------------------------------------------

TARGET_MARKETS = [
    (Industry.SOFTWARE, Region.NORTH_AMERICA, 2, "60000", "Our home market: two selling partners at least."),
    (Industry.MANUFACTURING, Region.APAC, 3, "40000", "Factories moving to metered IoT; few partners yet."),
    (Industry.MANUFACTURING, Region.EMEA_NORTH, 1, "30000", "Covered through Meridian's resellers."),
    (Industry.FINANCIAL_SERVICES, Region.EMEA_NORTH, 1, "20000", ""),
    (Industry.HEALTHCARE, Region.NORTH_AMERICA, 2, "25000", "Regulated: partners need the security course."),
    (Industry.RETAIL, Region.LATAM, 2, "15000", "Recruit in Brazil and Mexico."),
    (Industry.PUBLIC_SECTOR, Region.EMEA_SOUTH, 1, "10000", "No partner yet: a recruiting priority."),
]


def seed_target_markets(*, actor, partner_configs: list[dict] | None = None) -> int:
    """The demo partners' industry and region, then the target markets that are missing; returns
    the targets made. `partner_configs`: fixtures/demo.json's partners (read when not given)."""
    if partner_configs is None:
        from prm.operations.demo import load_demo_config

        partner_configs = load_demo_config()["partners"]
    with transaction.atomic():
        for config in partner_configs:
            if "industry" in config:
                place = {"industry": config["industry"], "region": config.get("region", "")}
                audit_update(
                    Partner.objects.filter(website_domain=config["website_domain"]).exclude(**place),
                    **place,
                    updated_at=timezone.now(),
                )
        made = 0
        for industry, region, goal_partners, goal_consumption, notes in TARGET_MARKETS:
            if not TargetMarket.objects.filter(industry=industry, region=region).exists():
                target_market_create(
                    actor=actor, industry=industry, region=region, goal_partners=goal_partners,
                    goal_consumption=Decimal(goal_consumption), notes=notes,
                )  # fmt: skip
                made += 1
    return made
