from django.contrib import admin

from prm.partners.models import (
    ApplicationComment,
    ExchangeRate,
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


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = [
        "name", "code", "rank", "min_trailing_revenue", "min_active_customers", "base_commission_rate",
        "list_discount_percent", "mdf_eligible",
    ]  # fmt: skip


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "rate", "updated_at"]


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "website_domain", "tier", "stage", "country", "industry", "region"]
    list_filter = ["tier", "stage", "industry", "region"]
    search_fields = ["name", "website_domain"]


@admin.register(PartnerStageChange)
class PartnerStageChangeAdmin(admin.ModelAdmin):
    list_display = ["partner", "from_stage", "to_stage", "reason", "changed_at"]


@admin.register(PartnerTierChange)
class PartnerTierChangeAdmin(admin.ModelAdmin):
    list_display = ["partner", "from_tier", "to_tier", "reason", "changed_at"]


@admin.register(TierEvaluation)
class TierEvaluationAdmin(admin.ModelAdmin):
    list_display = ["partner", "period", "current_tier", "proposed_tier", "direction", "status", "decided_at"]
    list_filter = ["status", "direction", "period"]
    # Decisions go through the portal (confirm writes the tier history); here they are read only.
    readonly_fields = [
        "partner", "period", "current_tier", "proposed_tier", "direction", "evidence", "status", "decided_by",
        "decided_at", "note",
    ]  # fmt: skip


class ApplicationCommentInline(admin.TabularInline):
    model = ApplicationComment
    extra = 0
    readonly_fields = ["author", "text", "created_at"]


@admin.register(PartnerApplication)
class PartnerApplicationAdmin(admin.ModelAdmin):
    list_display = ["company", "website", "country", "industry", "region", "status", "created_at", "decided_at"]
    list_filter = ["status", "industry", "region"]
    search_fields = ["company", "website", "contact_email"]
    inlines = [ApplicationCommentInline]
    # Decisions go through the portal (approval creates the partner and invites its admin).
    readonly_fields = ["status", "decided_by", "decided_at", "decision_reason", "partner", "created_at"]


class OnboardingItemInline(admin.TabularInline):
    model = OnboardingItem
    extra = 1


@admin.register(OnboardingTemplate)
class OnboardingTemplateAdmin(admin.ModelAdmin):
    """The checklists per tier are configured here; partners get their tasks through onboarding_ensure."""

    list_display = ["name", "tier"]
    inlines = [OnboardingItemInline]


@admin.register(OnboardingTask)
class OnboardingTaskAdmin(admin.ModelAdmin):
    list_display = ["partner", "item", "done_at", "done_by"]
    list_filter = ["item__template"]
    readonly_fields = ["partner", "item", "done_at", "done_by", "note"]


@admin.register(TargetMarket)
class TargetMarketAdmin(admin.ModelAdmin):
    list_display = ["industry", "region", "goal_partners", "goal_consumption"]
