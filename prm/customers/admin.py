from django.contrib import admin

from prm.customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "reseller", "use_case", "currency", "is_active"]
    list_filter = ["use_case", "currency", "is_active"]
    search_fields = ["name", "external_id", "domain"]
