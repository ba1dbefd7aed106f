from django.contrib import admin

from prm.partners.models import ExchangeRate, Partner, PartnerStageChange, PartnerTierChange, Tier, TierEvaluation


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
    list_display = ["name", "website_domain", "tier", "stage", "country"]
    list_filter = ["tier", "stage"]
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
