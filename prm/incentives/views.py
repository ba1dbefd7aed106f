"""Portal pages of the commission program and the ledger (statements: statement_views.py).

/incentives/rules/              the program's rules (everyone signed in); managers add and revise
/incentives/commissions/        the ledger in your scope, with this month's forecast on top
"""

from django.urls import reverse
from django.utils import timezone

from prm.core.periods import BillingPeriod
from prm.core.views import ObjectCreateView, ObjectDetailView, ObjectEditView, ObjectListView, ServiceFormMixin
from prm.incentives import rules
from prm.incentives.accrual import money_text
from prm.incentives.filtersets import CommissionEntryFilterSet, CommissionRuleFilterSet
from prm.incentives.forecast import commission_forecast
from prm.incentives.forms import CommissionRuleForm, CommissionRuleReviseForm
from prm.incentives.models import CommissionEntry, CommissionRule
from prm.incentives.tables import CommissionEntryTable, CommissionRuleTable, limits, narrowing, rate_summary


class CommissionRuleListView(ObjectListView):
    model = CommissionRule
    table_class = CommissionRuleTable
    filterset_class = CommissionRuleFilterSet
    select_related = ("tier", "plan", "metric")
    title = "Commission rules"
    create_url_name = "commission_rule_create"

    def can_create(self):
        return rules.can_configure_rules(self.request.user)


def _rule_url(rule: CommissionRule) -> str:
    return reverse("commission_rule_detail", args=[rule.pk])


class _RuleSaved(ServiceFormMixin):
    """After a save, the rule's page (its str names code and version: "… (revenue-share v2)")."""

    def get_success_url(self):
        return _rule_url(self.object)


class CommissionRuleCreateView(_RuleSaved, ObjectCreateView):
    model = CommissionRule
    form_class = CommissionRuleForm
    template_name = "incentives/rule_form.html"

    def can_create(self):
        return rules.can_configure_rules(self.request.user)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)  # a plain form: the service makes the rule
        return kwargs

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {"title": "New commission rule"}

    def save(self, form):
        return rules.commission_rule_create(actor=self.request.user, **form.cleaned_data)


class CommissionRuleDetailView(ObjectDetailView):
    model = CommissionRule
    select_related = ("tier", "plan", "metric", "created_by")
    template_name = "incentives/rule_detail.html"
    context_object_name = "rule"

    def get_context_data(self, **kwargs):
        rule = self.object
        versions = CommissionRule.objects.filter(code=rule.code).select_related("created_by").order_by("-version")
        latest = versions.first()
        return super().get_context_data(
            versions=versions,
            is_latest=latest is not None and latest.pk == rule.pk,
            latest=latest,
            narrowing=narrowing(rule),
            rate=rate_summary(rule),
            limits=limits(rule),
            can_revise=rules.can_configure_rules(self.request.user),
            **kwargs,
        )


class CommissionRuleReviseView(_RuleSaved, ObjectEditView):
    """A new version from a later period (managers; everyone else 403, another's 404 never: the
    program is public to signed-in users)."""

    model = CommissionRule
    form_class = CommissionRuleReviseForm
    template_name = "incentives/rule_form.html"

    def can_edit(self, obj):
        return rules.can_configure_rules(self.request.user)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)
        return {**kwargs, "rule": self.object}

    def get_context_data(self, **kwargs):
        rule = self.object
        return super().get_context_data(**kwargs) | {
            "title": f"Revise {rule.name} ({rule.code} v{rule.version})",
            "rule": rule,
        }

    def save(self, form):
        changes = dict(form.cleaned_data)
        return rules.commission_rule_revise(
            actor=self.request.user, rule=self.object, effective_from=changes.pop("effective_from"), **changes
        )


class CommissionListView(ObjectListView):
    """The ledger: every entry links to the invoice (its lines, and the usage behind them) and to
    its statement once it is on one; the open period's forecast sits on top."""

    model = CommissionEntry
    table_class = CommissionEntryTable
    filterset_class = CommissionEntryFilterSet
    select_related = ("partner", "customer", "rule", "invoice")
    template_name = "incentives/commission_list.html"
    title = "Commissions"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        if user.is_manager or user.is_partner_user:
            period = BillingPeriod.containing(timezone.now())
            forecast = commission_forecast(user=user, period=period)
            context["forecast"] = forecast
            context["forecast_totals"] = [
                f"{money_text(bucket.total, bucket.currency)} {bucket.currency}" for bucket in forecast.currencies
            ]
        return context
