from django.contrib import admin

from prm.billing.models import CreditDrawdown, CreditGrant, CreditNote, Invoice, InvoiceLine


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ("position", "metric", "model", "quantity", "amount", "description", "charge", "tiers")


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Read-only: invoices change only through the billing services."""

    list_display = ("__str__", "period", "customer", "status", "currency", "total", "credited")
    list_filter = ("status", "period")
    search_fields = ("number", "customer__name", "subscription__external_id")
    inlines = [InvoiceLineInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    list_display = ("number", "invoice", "amount", "reason", "created_at")
    search_fields = ("number", "invoice__number")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CreditDrawdownInline(admin.TabularInline):
    model = CreditDrawdown
    extra = 0
    can_delete = False
    readonly_fields = ("invoice", "amount", "created_at")


@admin.register(CreditGrant)
class CreditGrantAdmin(admin.ModelAdmin):
    """Read-only: credits are bought and granted through the billing services (credits.py)."""

    list_display = ("name", "customer", "source", "currency", "credits", "price", "granted_at", "expires_at")
    list_filter = ("source", "currency")
    search_fields = ("name", "customer__name", "customer__external_id", "subscription__external_id")
    inlines = [CreditDrawdownInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
