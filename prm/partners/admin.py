from django.contrib import admin

from prm.partners.models import Partner, PartnerStageChange, Tier


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "rank"]


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "website_domain", "tier", "stage", "country"]
    list_filter = ["tier", "stage"]
    search_fields = ["name", "website_domain"]


@admin.register(PartnerStageChange)
class PartnerStageChangeAdmin(admin.ModelAdmin):
    list_display = ["partner", "from_stage", "to_stage", "reason", "changed_at"]
