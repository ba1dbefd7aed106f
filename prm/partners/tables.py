from decimal import Decimal

import django_tables2 as tables
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html

from prm.core.money import plain_decimal
from prm.partners.models import Partner, PartnerApplication, Tier, TierEvaluation
from prm.partners.selectors import amount_text, onboarding_progress_of


class PartnerTable(tables.Table):
    name = tables.Column(linkify=True)
    tier = tables.Column(accessor="tier__name", order_by="tier__rank", verbose_name="Tier")
    stage = tables.Column()
    customer_count = tables.Column(verbose_name="Customers", orderable=True)
    channel_manager = tables.Column(accessor="channel_manager__full_name", verbose_name="Channel manager")

    class Meta:
        model = Partner
        fields = ("name", "website_domain", "country", "tier", "stage", "customer_count", "channel_manager")
        order_by = ("name",)
        attrs = {"class": "table"}

    def render_stage(self, record, value):
        return format_html('<span class="badge stage-{}">{}</span>', record.stage, value)

    def render_customer_count(self, record, value):
        # A count links to the filtered list behind it.
        url = reverse("customer_list") + f"?reseller={record.pk}"
        return format_html('<a href="{}">{}</a>', url, value)

    def value_customer_count(self, value):
        return value


def _percent(value) -> str:
    return "—" if value is None else f"{plain_decimal(value)} %"


class TierTable(tables.Table):
    """The program's tiers: what each asks (criteria) and what it gives (benefits)."""

    rank = tables.Column()
    name = tables.Column(verbose_name="Tier")
    min_trailing_revenue = tables.Column(
        verbose_name="Trailing revenue", default="—", attrs={"td": {"class": "number"}, "th": {"class": "number"}}
    )
    min_active_customers = tables.Column(verbose_name="Active customers", default="—")
    min_certified_people = tables.Column(verbose_name="Certified people", default="—")
    min_growth_percent = tables.Column(verbose_name="Growth", default="—")
    base_commission_rate = tables.Column(verbose_name="Base commission", default="—")
    list_discount_percent = tables.Column(verbose_name="List discount")
    mdf_eligible = tables.BooleanColumn(verbose_name="MDF", yesno="yes,no")
    partner_count = tables.Column(verbose_name="Partners")
    edit = tables.Column(empty_values=(), orderable=False, verbose_name="", exclude_from_export=True)

    class Meta:
        model = Tier
        fields = (
            "rank", "name", "min_trailing_revenue", "min_active_customers", "min_certified_people",
            "min_growth_percent", "base_commission_rate", "list_discount_percent", "mdf_eligible", "partner_count",
        )  # fmt: skip
        sequence = (*fields, "edit")
        order_by = ("rank",)
        attrs = {"class": "table"}
        row_attrs = {"id": lambda record: f"tier-{record.code}"}

    def render_min_trailing_revenue(self, value):
        return f"{amount_text(value, settings.PRM_PROGRAM_CURRENCY)} {settings.PRM_PROGRAM_CURRENCY}"

    def value_min_trailing_revenue(self, value):
        return plain_decimal(value)

    def render_min_growth_percent(self, value):
        return _percent(value)

    def render_base_commission_rate(self, value):
        return _percent(value)

    def render_list_discount_percent(self, value):
        return _percent(value)

    def value_min_growth_percent(self, value):
        return plain_decimal(value)

    def value_base_commission_rate(self, value):
        return plain_decimal(value)

    def value_list_discount_percent(self, value):
        return plain_decimal(value)

    def render_partner_count(self, record, value):
        url = reverse("partner_list") + f"?tier={record.code}"
        return format_html('<a href="{}">{}</a>', url, value)

    def value_partner_count(self, value):
        return value

    def render_edit(self, record):
        return format_html('<a href="{}">Edit</a>', reverse("tier_edit", args=[record.pk]))


class TierEvaluationTable(tables.Table):
    period = tables.Column(linkify=True)
    partner = tables.Column(accessor="partner__name", order_by="partner__name", verbose_name="Partner")
    current_tier = tables.Column(accessor="current_tier__name", order_by="current_tier__rank", verbose_name="From")
    proposed_tier = tables.Column(accessor="proposed_tier__name", order_by="proposed_tier__rank", verbose_name="To")
    direction = tables.Column()
    status = tables.Column()
    trailing_revenue = tables.Column(
        empty_values=(), orderable=False, verbose_name="Trailing revenue",
        attrs={"td": {"class": "number"}, "th": {"class": "number"}},
    )  # fmt: skip
    active_customers = tables.Column(empty_values=(), orderable=False, verbose_name="Active customers")
    growth = tables.Column(empty_values=(), orderable=False, verbose_name="Growth")
    decided_by = tables.Column(accessor="decided_by__display_name", orderable=False, verbose_name="Decided by")

    class Meta:
        model = TierEvaluation
        fields = ("period", "partner", "current_tier", "proposed_tier", "direction", "status")
        sequence = (*fields, "trailing_revenue", "active_customers", "growth", "decided_by")
        order_by = ("-period",)
        attrs = {"class": "table"}

    # The figures come from the stored evidence, so the row needs no further query.
    def render_trailing_revenue(self, record):
        evidence, currency = record.evidence, record.evidence["program_currency"]
        return f"{amount_text(Decimal(evidence['trailing_revenue']['total']), currency)} {currency}"

    def value_trailing_revenue(self, record):
        return record.evidence["trailing_revenue"]["total"]

    def render_active_customers(self, record):
        return record.evidence["active_customers"]

    def value_active_customers(self, record):
        return record.evidence["active_customers"]

    def render_growth(self, record):
        growth = record.evidence.get("growth_percent")
        return "—" if growth is None else f"{growth} %"

    def value_growth(self, record):
        return record.evidence.get("growth_percent") or ""


class PartnerApplicationTable(tables.Table):
    company = tables.Column(linkify=True)
    website = tables.Column()
    country = tables.Column()
    industry = tables.Column()
    region = tables.Column()
    expected_customers = tables.Column(
        verbose_name="Expected customers", attrs={"td": {"class": "number"}, "th": {"class": "number"}}
    )
    status = tables.Column()
    comment_count = tables.Column(verbose_name="Comments")
    created_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Received")
    decided_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Decided", default="—")

    class Meta:
        model = PartnerApplication
        fields = (
            "company", "website", "country", "industry", "region", "expected_customers", "status", "comment_count",
            "created_at", "decided_at",
        )  # fmt: skip
        order_by = ("-created_at",)
        attrs = {"class": "table"}

    def render_status(self, record, value):
        return format_html('<span class="badge status-{}">{}</span>', record.status, value)

    def value_comment_count(self, value):
        return value


class OnboardingTable(tables.Table):
    """Partners in the onboard stage and how far their checklist has come (read from the prefetched
    tasks, no query per row)."""

    name = tables.Column(linkify=True, verbose_name="Partner")
    tier = tables.Column(accessor="tier__name", order_by="tier__rank", verbose_name="Tier")
    region = tables.Column()
    progress = tables.Column(empty_values=(), orderable=False, verbose_name="Checklist")
    next_item = tables.Column(empty_values=(), orderable=False, verbose_name="Next item")
    channel_manager = tables.Column(accessor="channel_manager__full_name", verbose_name="Channel manager")
    created_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Partner since")

    class Meta:
        model = Partner
        fields = ("name", "tier", "region", "channel_manager", "created_at")
        sequence = ("name", "tier", "region", "progress", "next_item", "channel_manager", "created_at")
        order_by = ("name",)
        attrs = {"class": "table"}

    def render_progress(self, record):
        progress = onboarding_progress_of(record)
        if not progress.total:
            return format_html('<span class="muted">{}</span>', "no checklist")
        return format_html(
            '<progress max="{}" value="{}">{} %</progress> {} of {} ({} %)',
            progress.total, progress.done, progress.percent, progress.done, progress.total, progress.percent,
        )  # fmt: skip

    def value_progress(self, record):
        progress = onboarding_progress_of(record)
        return f"{progress.done}/{progress.total}"

    def render_next_item(self, record):
        pending = [row.task.item.title for row in onboarding_progress_of(record).rows if not row.done]
        return pending[0] if pending else "—"

    def value_next_item(self, record):
        return self.render_next_item(record)
