from django.contrib import admin

from prm.incentives.models import CommissionEntry, CommissionRule, Payout, Statement


class ReadOnlyAdmin(admin.ModelAdmin):
    """The program and its ledger change only through the incentives services (versioned rules,
    append-only entries, approved and paid statements): the admin only looks."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CommissionRule)
class CommissionRuleAdmin(ReadOnlyAdmin):
    list_display = ("code", "version", "name", "kind", "effective_from", "effective_to", "rate", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")


@admin.register(CommissionEntry)
class CommissionEntryAdmin(ReadOnlyAdmin):
    list_display = ("period", "partner", "customer", "rule", "currency", "amount", "statement")
    list_filter = ("period", "currency")
    search_fields = ("partner__name", "customer__name", "invoice__number", "explanation")
    list_select_related = ("partner", "customer", "rule", "statement")


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    list_display = ("partner", "period", "currency", "status", "total")
    list_filter = ("status", "period", "currency")
    search_fields = ("partner__name",)


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ("statement", "amount", "currency", "reference", "paid_at")
    search_fields = ("reference", "statement__partner__name")
