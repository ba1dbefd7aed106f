from django.contrib import admin

from prm.deals.models import DealRegistration


@admin.register(DealRegistration)
class DealRegistrationAdmin(admin.ModelAdmin):
    list_display = ["company", "domain", "partner", "status", "has_conflicts", "expected_close", "created_at"]
    list_filter = ["status", "has_conflicts"]
    search_fields = ["company", "domain", "company_key"]
    raw_id_fields = ["partner", "registered_by", "decided_by", "closed_by", "customer", "subscription", "plan"]
