from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import FormView, TemplateView

from prm.core.views import ObjectCreateView, ObjectDetailView, ObjectEditView, ObjectListView, add_errors
from prm.plans import pricing, selectors, services
from prm.plans.filtersets import MetricFilterSet, PlanFilterSet
from prm.plans.forms import MetricForm, PlanForm
from prm.plans.models import Metric, Plan
from prm.plans.tables import MetricTable, PlanTable


class MetricListView(ObjectListView):
    """The metric catalogue: everyone signed in reads it; managers add and edit."""

    model = Metric
    table_class = MetricTable
    filterset_class = MetricFilterSet
    create_url_name = "metric_create"

    def can_create(self):
        return self.request.user.is_manager


class MetricCreateView(ObjectCreateView):
    model = Metric
    form_class = MetricForm

    def can_create(self):
        return self.request.user.is_manager

    def save(self, form):
        return services.metric_create(actor=self.request.user, **form.cleaned_data)


class MetricEditView(ObjectEditView):
    model = Metric
    form_class = MetricForm

    def can_edit(self, obj):
        return self.request.user.is_manager

    def save(self, form):
        return services.metric_update(actor=self.request.user, metric=self.object, **form.cleaned_data)


class PlanListView(ObjectListView):
    model = Plan
    table_class = PlanTable
    filterset_class = PlanFilterSet
    create_url_name = "plan_create"

    def get_queryset(self):
        return super().get_queryset().prefetch_related("versions")

    def can_create(self):
        return self.request.user.is_manager


class PlanDetailView(ObjectDetailView):
    model = Plan
    template_name = "plans/plan_detail.html"

    def get_context_data(self, **kwargs):
        versions = self.object.versions.select_related("created_by")
        return super().get_context_data(
            versions=versions,
            version=versions[0] if versions else None,
            can_edit=self.request.user.is_manager,
            **kwargs,
        )


class PlanFormView(LoginRequiredMixin, FormView):
    """Create or edit a plan; prices in use by subscriptions change in a new version."""

    form_class = PlanForm
    template_name = "core/object_form.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not request.user.is_manager:
            raise PermissionDenied
        self.plan = get_object_or_404(Plan, pk=kwargs["pk"]) if "pk" in kwargs else None
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "actor": self.request.user, "plan": self.plan}

    def get_context_data(self, **kwargs):
        title = f"Edit {self.plan}" if self.plan else "New plan"
        return super().get_context_data(title=title, object=self.plan, **kwargs)

    def form_valid(self, form):
        fields = dict(form.cleaned_data)
        try:
            if self.plan is None:
                plan = services.plan_create(actor=self.request.user, **fields)
            else:
                fields.pop("code", None)
                plan = services.plan_update(actor=self.request.user, plan=self.plan, **fields)
        except ValidationError as error:
            add_errors(form, _by_field(error))
            return self.form_invalid(form)
        messages.success(self.request, f"Plan {plan.code} saved (version {plan.current_version.version}).")
        return redirect(plan)


def _by_field(error: ValidationError) -> ValidationError:
    """Paths such as charges[0].tiers[1].up_to go on the form field they start with."""
    grouped: dict[str, list[str]] = {}
    for path, messages_ in error.message_dict.items():
        field = path.split("[")[0].split(".")[0]
        grouped.setdefault(field, []).extend(f"{path}: {m}" if path != field else m for m in messages_)
    return ValidationError(grouped)


class QuoteCalculatorView(LoginRequiredMixin, TemplateView):
    """Choose a plan, enter expected usage, see the monthly estimate line by line; printable."""

    template_name = "plans/calculator.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not (request.user.is_manager or request.user.is_partner_user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        plans = Plan.objects.visible_to(self.request.user).filter(is_active=True).prefetch_related("versions")
        plan = plans.filter(code=self.request.GET.get("plan")).first()
        context = {"plans": plans, "plan": plan, "inputs": [], "quote": None, "errors": {}}
        if plan is not None:
            version = plan.current_version
            metrics = {m.code: m for m in Metric.objects.filter(code__in=[c.get("metric") for c in version.charges])}
            codes = list(dict.fromkeys(c["metric"] for c in version.charges if c.get("metric")))
            usage = {code: self.request.GET.get(f"usage_{code}", "") for code in codes}
            context["inputs"] = [{"code": code, "metric": metrics.get(code), "value": usage[code]} for code in codes]
            if "calculate" in self.request.GET:
                try:
                    context["quote"] = selectors.quote(
                        {"currency": plan.currency, "plan": plan.code, "usage": {k: v or "0" for k, v in usage.items()}}
                    )
                except pricing.PricingError as error:
                    context["errors"] = error.errors
        return {**super().get_context_data(**kwargs), **context}
