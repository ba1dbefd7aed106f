"""The demo data behind `manage.py seed_demo`: tiers, partners, customers, the demo logins, the
billable metrics, about six months of the customers' usage, the plans and the customers'
subscriptions.

What the demo contains lives in `fixtures/tiers.json`, `fixtures/demo.json`,
`fixtures/metrics.json` and `fixtures/plans.json`; this module only turns it into rows (the
usage: `demo_usage`; plans and subscriptions: `demo_plans`). Seeding is idempotent and
deterministic: every row is found by its natural key (tier code, user email, partner domain,
customer external id, metric code, plan code, subscription external id) and written only when it
differs from the demo (plans and subscriptions: only when missing), and every usage event has a
fixed id, so a second run changes nothing (on a later day it adds that day's usage).
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.sites.models import Site
from django.db import models, transaction
from django.utils import timezone

from prm.accounts.models import Membership, Role, User
from prm.customers.models import Customer
from prm.operations.alerting import alerts_evaluate
from prm.operations.demo_deals import DealSeedResult, seed_deals
from prm.operations.demo_enablement import EnablementSeedResult, seed_enablement
from prm.operations.demo_incentives import seed_commission_rules
from prm.operations.demo_invoices import InvoiceSeedResult, seed_invoices
from prm.operations.demo_lifecycle import seed_applications, seed_onboarding, seed_target_markets
from prm.operations.demo_plans import PlanSeedResult, ensure_plans, ensure_subscriptions, load_plan_fixture
from prm.operations.demo_statements import StatementPaymentSeedResult, seed_statement_payments
from prm.operations.demo_usage import UsageSeedResult, seed_usage, usage_start
from prm.partners.models import Partner, PartnerStageChange, Stage, Tier
from prm.partners.services import exchange_rates_load, partner_update, tier_fixture_values
from prm.plans.models import Metric
from prm.usage.models import Alert

# One password for every demo login, so the README and the command's output can state it.
# It is meant to be public: the demo data is for trying the portal, never for production.
DEMO_PASSWORD = "prm-demo-2026"  # noqa: S105

# Why a partner moved into each stage, as its history page will show it.
STAGE_REASONS = {
    Stage.RECRUIT: "Demo: application received",
    Stage.ONBOARD: "Demo: application approved",
    Stage.ENABLE: "Demo: onboarding checklist completed",
    Stage.MARKET: "Demo: first certification earned",
    Stage.SELL: "Demo: co-marketing campaign launched",
    Stage.INCENTIVIZE: "Demo: first customer billed",
    Stage.ACCELERATE: "Demo: promoted to the growth accelerator",
}
STAGE_ORDER = list(Stage)
# Demo partners spend about six weeks in each stage; the latest move is a week or more ago.
DAYS_PER_STAGE = 45
DAYS_SINCE_LAST_MOVE = 7


@dataclass
class DemoSummary:
    vendor_name: str
    tiers: int = 0
    partners: int = 0
    customers: int = 0
    users: int = 0
    metrics: int = 0
    created: Counter = field(default_factory=Counter)  # rows this run added, by kind
    logins: list[tuple[str, str]] = field(default_factory=list)  # (email, who they are)
    usage: UsageSeedResult = field(default_factory=UsageSeedResult)
    plans: PlanSeedResult = field(default_factory=PlanSeedResult)
    invoices: InvoiceSeedResult = field(default_factory=InvoiceSeedResult)
    commission_rules: int = 0  # created by this run
    payments: StatementPaymentSeedResult = field(default_factory=StatementPaymentSeedResult)
    lifecycle: "LifecycleSeedResult | None" = None
    alerts_fired: int = 0  # by this run
    alerts: int = 0  # in all

    @property
    def alerts_line(self) -> str:
        return f"Alerts: {self.alerts} fired in all (this run: {self.alerts_fired})."

    @property
    def usage_line(self) -> str:
        usage = self.usage
        since = f" since {usage.start.isoformat()}" if usage.start else ""
        return (
            f"Usage: {self.metrics} metrics, {usage.sent} events for {usage.customers} customers{since} "
            f"(new this run: {usage.accepted} events; already there: {usage.duplicates})."
        )

    @property
    def plans_line(self) -> str:
        return self.plans.line

    @property
    def lifecycle_line(self) -> str:
        return self.lifecycle.line if self.lifecycle else ""

    @property
    def incentives_line(self) -> str:
        return f"Commission rules: {self.commission_rules} new. {self.payments.line}"


@dataclass
class LifecycleSeedResult:
    applications: int
    onboarding: int
    target_markets: int
    enablement: EnablementSeedResult
    deals: DealSeedResult

    @property
    def line(self) -> str:
        return (
            f"Lifecycle (new this run): {self.applications} applications, {self.onboarding} onboarding tasks, "
            f"{self.target_markets} target markets. {self.enablement.line} {self.deals.line}"
        )


def _pin_demo_stages(partner_configs: list[dict], *, partners: dict[str, Partner], manager: User) -> None:
    """Each demo partner shows its lifecycle stage from fixtures/demo.json, so every stage has an
    example. Evidence (billed customers, commissions) may have moved a partner further while the
    seed closed past months; the demo's channel manager then sets the stage back, recorded as an
    override, so it holds until newer evidence arrives (see operations/lifecycle.py)."""
    for config in partner_configs:
        partner = Partner.objects.get(pk=partners[config["website_domain"]].pk)
        if partner.stage != config["stage"]:
            partner_update(
                actor=manager, partner=partner, stage=config["stage"],
                reason="Demo: the channel manager's assessment of where the partner stands",
            )  # fmt: skip


def demo_fixtures_dir() -> Path:
    return Path(settings.BASE_DIR) / "fixtures"


def load_demo_config() -> dict:
    return json.loads((demo_fixtures_dir() / "demo.json").read_text(encoding="utf-8"))


def load_tier_fixture() -> list[dict]:
    return json.loads((demo_fixtures_dir() / "tiers.json").read_text(encoding="utf-8"))


def load_metric_fixture() -> dict:
    return json.loads((demo_fixtures_dir() / "metrics.json").read_text(encoding="utf-8"))


def seed_demo(
    *, usage_months: int | None = None, usage_customers: list[str] | None = None, invoices: bool = True
) -> DemoSummary:
    """Bring the database to the demo state; safe to run any number of times.

    Usage covers the demo's months (`usage_months` to change it; 0 is this month so far) for
    every demo customer (or only the external ids in `usage_customers`). With `invoices`, every
    past month is then closed; leave it off when usage for past months is still to be sent
    (closed months quarantine late usage, as they would in production).
    """
    config, tier_fixture, metric_fixture = load_demo_config(), load_tier_fixture(), load_metric_fixture()
    plan_fixture = load_plan_fixture(demo_fixtures_dir())
    logins = config["demo_logins"]
    summary = DemoSummary(vendor_name=config["vendor"]["name"])
    now = timezone.now()
    with transaction.atomic():
        _ensure_site(config["vendor"])
        tiers = _ensure_tiers(tier_fixture, summary)
        _ensure_metrics(metric_fixture, summary)
        manager = _ensure_user(logins["manager"], role=Role.MANAGER, summary=summary)
        partners = _ensure_partners(config["partners"], tiers=tiers, manager=manager, now=now, summary=summary)
        partner_admin = _ensure_user(
            logins["partner_admin"],
            role=Role.PARTNER_ADMIN,
            partner=partners[logins["partner_admin"]["partner"]],
            summary=summary,
        )
        rep = _ensure_user(
            logins["partner_rep"],
            role=Role.PARTNER_REP,
            partner=partners[logins["partner_rep"]["partner"]],
            summary=summary,
        )
        _ensure_partner_admins(config, partners, summary)
        rep_of_customer = dict.fromkeys(logins["partner_rep"]["customers"], rep)
        customers = _ensure_customers(config["customers"], partners=partners, rep_of=rep_of_customer, summary=summary)
        customer_admin = _ensure_user(
            logins["customer_admin"],
            role=Role.CUSTOMER_ADMIN,
            customer=customers[logins["customer_admin"]["customer"]],
            summary=summary,
        )
        plans = ensure_plans(plan_fixture, actor=manager, result=summary.plans)
        # The partner program: reference rates for tier criteria, and the commission rules, in force
        # before the first demo invoice so the closed months accrue.
        exchange_rates_load(demo_fixtures_dir() / "exchange_rates.json")
        summary.commission_rules = seed_commission_rules(actor=manager, now=now)
    # Its own step, after the rows above are committed: the usage goes in through the ingest
    # service, which commits each batch; a run stopped half-way is completed by the next one.
    summary.usage = seed_usage(
        [
            customer
            for external_id, customer in customers.items()
            if usage_customers is None or external_id in usage_customers
        ],
        actor=manager,
        metric_fixture=metric_fixture,
        usage_config=config["usage"],
        now=now.replace(minute=0, second=0, microsecond=0),
        months=usage_months,
    )
    # After the usage, so that each subscription starts in the month of the customer's first usage.
    with transaction.atomic():
        ensure_subscriptions(
            customers.values(),
            plans=plans,
            actor=manager,
            default_start=usage_start(now, config["usage"]["months"]),
            result=summary.plans,
        )
    if invoices:
        # Past months closed through the real period close; this month's drafts are live estimates.
        summary.invoices = seed_invoices(now=now, actor=manager)
        # The period close accrued commissions and made statements; past ones approved, older ones paid.
        summary.payments = seed_statement_payments(actor=manager, now=now)
        # What beat's evaluation (every 15 minutes in production) would have fired by now: the default
        # 80 % and 100 % of commitment rules on this month's live drafts. Each fires once a period, so a
        # second seed fires nothing new.
        summary.alerts_fired = len(alerts_evaluate(now=now))
        summary.alerts = Alert.objects.count()
    # The lifecycle around the money: applications, onboarding checklists, target markets,
    # training and certifications, deals and market-development funds.
    summary.lifecycle = LifecycleSeedResult(
        applications=seed_applications(actor=manager, now=now),
        onboarding=seed_onboarding(actor=manager),
        target_markets=seed_target_markets(actor=manager, partner_configs=config["partners"]),
        enablement=seed_enablement(actor=manager, now=now),
        deals=seed_deals(actor=manager, now=now),
    )
    _pin_demo_stages(config["partners"], partners=partners, manager=manager)
    summary.logins = [
        (manager.email, "channel manager"),
        (partner_admin.email, f"partner admin of {partner_admin.partner}"),
        (rep.email, f"partner rep of {rep.partner}"),
        (customer_admin.email, f"customer admin of {customer_admin.customer}"),
    ]
    return summary


def _upsert(model: type[models.Model], lookup: dict, values: dict) -> tuple[models.Model, bool]:
    """update_or_create that validates, and saves only what differs (so `updated_at` stays put)."""
    instance = model._default_manager.filter(**lookup).first()
    if instance is None:
        instance = model(**lookup, **values)
        instance.full_clean()
        instance.save()
        return instance, True
    changed = {name: value for name, value in values.items() if getattr(instance, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(instance, name, value)
        instance.full_clean()
        instance.save()
    return instance, False


def _ensure_site(vendor: dict) -> None:
    # allauth's emails and page titles name the site; the demo serves on the runserver address.
    _upsert(Site, {"pk": settings.SITE_ID}, {"name": vendor["name"], "domain": vendor["site_domain"]})


def _ensure_tiers(tier_fixture: list[dict], summary: DemoSummary) -> dict[str, Tier]:
    # Keyed on the code, not the fixture's pk, so a database whose tiers got other ids converges too.
    tiers = {}
    for entry in tier_fixture:
        fields = entry["fields"]
        tier, created = _upsert(Tier, {"code": fields["code"]}, tier_fixture_values(fields))
        tiers[tier.code] = tier
        summary.created["tiers"] += created
    summary.tiers = len(tiers)
    return tiers


def _ensure_metrics(metric_fixture: dict, summary: DemoSummary) -> None:
    # The fields below are what metric_create takes; full_clean validates them as it does.
    for entry in metric_fixture["metrics"]:
        values = {name: entry[name] for name in ("name", "unit", "aggregation", "field", "description")}
        _metric, created = _upsert(Metric, {"code": entry["code"]}, values)
        summary.created["metrics"] += created
    summary.metrics = len(metric_fixture["metrics"])


def _ensure_user(
    login: dict, *, role: str, summary: DemoSummary, partner: Partner | None = None, customer: Customer | None = None
) -> User:
    """A demo user who can sign in: known password, one membership, a verified primary email."""
    email = login["email"].lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, full_name=login["full_name"])
        summary.created["users"] += 1
    else:
        _reset_demo_user(user, full_name=login["full_name"])
    _upsert(Membership, {"user": user}, {"role": role, "partner": partner, "customer": customer})
    # allauth refuses to sign in an unverified address (ACCOUNT_EMAIL_VERIFICATION = "mandatory").
    _upsert(EmailAddress, {"user": user, "email": email}, {"verified": True, "primary": True})
    summary.users += 1
    return user


def _reset_demo_user(user: User, *, full_name: str) -> None:
    """Undo what exploring the demo may have changed, so the printed logins work again."""
    changed = False
    # Hashing again only when the password differs keeps a second run from rewriting the row
    # (every hash has a fresh salt).
    if not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        changed = True
    if user.full_name != full_name or not user.is_active:
        user.full_name, user.is_active = full_name, True
        changed = True
    if changed:
        user.save()


def _ensure_partners(
    partner_configs: list[dict], *, tiers: dict[str, Tier], manager: User, now: datetime, summary: DemoSummary
) -> dict[str, Partner]:
    # Distributors first, so that a reseller's parent exists when the reseller is written.
    ordered = sorted(partner_configs, key=lambda config: not config.get("distributor", False))
    partners: dict[str, Partner] = {}
    for position, config in enumerate(ordered):
        partner, created = _upsert(
            Partner,
            {"website_domain": config["website_domain"]},
            {
                "name": config["name"],
                "country": config["country"],
                "tier": tiers[config["tier"]],
                "stage": config["stage"],
                "channel_manager": manager,
                "parent": partners[config["parent"]] if config.get("parent") else None,
            },
        )
        # Stagger the partners' histories by a few days so they do not all move on the same day.
        last_move_at = now - timedelta(days=DAYS_SINCE_LAST_MOVE + 3 * position)
        _ensure_stage_history(partner, changed_by=manager, last_move_at=last_move_at)
        partners[partner.website_domain] = partner
        summary.created["partners"] += created
    summary.partners = len(partners)
    return partners


def _ensure_stage_history(partner: Partner, *, changed_by: User, last_move_at: datetime) -> None:
    """Give the partner a lifecycle history that ends in its current stage."""
    latest = partner.stage_changes.first()  # newest first, by the model's ordering
    if latest is None:
        _record_walk_to_stage(partner, changed_by=changed_by, last_move_at=last_move_at)
    elif latest.to_stage != partner.stage:
        # Someone moved the partner while exploring the demo and the seed moved it back:
        # record that, so the history still ends where the partner is.
        PartnerStageChange.objects.create(
            partner=partner,
            from_stage=latest.to_stage,
            to_stage=partner.stage,
            reason="Demo: stage restored by seed_demo",
            changed_by=changed_by,
            changed_at=timezone.now(),
        )


def _record_walk_to_stage(partner: Partner, *, changed_by: User, last_move_at: datetime) -> None:
    """One change per step from the application (recruit) up to the partner's stage."""
    reached = STAGE_ORDER[: STAGE_ORDER.index(partner.stage) + 1]
    first_move_at = last_move_at - timedelta(days=DAYS_PER_STAGE * (len(reached) - 1))
    previous = ""
    changes = []
    for step, stage in enumerate(reached):
        changes.append(
            PartnerStageChange(
                partner=partner,
                from_stage=previous,
                to_stage=stage,
                reason=STAGE_REASONS[stage],
                changed_by=changed_by,
                changed_at=first_move_at + timedelta(days=DAYS_PER_STAGE * step),
            )
        )
        previous = stage
    PartnerStageChange.objects.bulk_create(changes)


def _ensure_partner_admins(config: dict, partners: dict[str, Partner], summary: DemoSummary) -> None:
    """An admin for every other partner with customers, so cross-tenant checks have someone to try."""
    demo_partner_domain = config["demo_logins"]["partner_admin"]["partner"]
    resellers = {customer["reseller"] for customer in config["customers"]}
    for partner_config in config["partners"]:
        domain = partner_config["website_domain"]
        if domain == demo_partner_domain or domain not in resellers:
            continue
        login = {"email": f"admin@{domain}", "full_name": partner_config["admin_name"]}
        _ensure_user(login, role=Role.PARTNER_ADMIN, partner=partners[domain], summary=summary)


def _ensure_customers(
    customer_configs: list[dict], *, partners: dict[str, Partner], rep_of: dict[str, User], summary: DemoSummary
) -> dict[str, Customer]:
    customers: dict[str, Customer] = {}
    for config in customer_configs:
        customer, created = _upsert(
            Customer,
            {"external_id": config["external_id"]},
            {
                "name": config["name"],
                "domain": config["domain"],
                "use_case": config["use_case"],
                "currency": config["currency"],
                "reseller": partners[config["reseller"]],
                "assigned_rep": rep_of.get(config["external_id"]),
                "is_active": True,
            },
        )
        customers[customer.external_id] = customer
        summary.created["customers"] += created
    summary.customers = len(customers)
    return customers
