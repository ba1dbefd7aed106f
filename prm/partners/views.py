from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from prm.core.views import (
    ObjectCreateView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    add_errors,
    report_form_errors,
)
from prm.customers.models import Customer
from prm.partners import selectors, services
from prm.partners.filtersets import (
    OnboardingFilterSet,
    PartnerApplicationFilterSet,
    PartnerFilterSet,
    TierEvaluationFilterSet,
    TierFilterSet,
)
from prm.partners.forms import (
    ApplicationApproveForm,
    ApplicationCommentForm,
    ApplicationRejectForm,
    OnboardingCompleteForm,
    PartnerApplicationForm,
    PartnerForm,
    TargetMarketForm,
    TierDecisionForm,
    TierForm,
)
from prm.partners.models import (
    ApplicationStatus,
    EvaluationStatus,
    ExchangeRate,
    OnboardingTask,
    Partner,
    PartnerApplication,
    Stage,
    TargetMarket,
    Tier,
    TierEvaluation,
)
from prm.partners.permissions import (
    can_complete_onboarding,
    can_manage_partners,
    can_review_applications,
    can_see_tier_evaluations,
)
from prm.partners.tables import (
    OnboardingTable,
    PartnerApplicationTable,
    PartnerTable,
    TierEvaluationTable,
    TierTable,
)


class PartnerListView(ObjectListView):
    model = Partner
    table_class = PartnerTable
    filterset_class = PartnerFilterSet
    create_url_name = "partner_create"

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("tier", "channel_manager")
            .annotate(customer_count=Count("customers"))
            .order_by("name")  # Meta.ordering is dropped by the GROUP BY of the count
        )

    def can_create(self):
        return can_manage_partners(self.request.user)


class PartnerDetailView(ObjectDetailView):
    model = Partner
    select_related = ("tier", "channel_manager", "parent")
    template_name = "partners/partner_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        partner, user = self.object, self.request.user
        context["customers"] = Customer.objects.visible_to(user).filter(reseller=partner).select_related("assigned_rep")
        context["stage_changes"] = partner.stage_changes.select_related("changed_by")[:20]
        context["tier_changes"] = selectors.partner_tier_history(user, partner)[:20]
        context["tier_progress"] = selectors.partner_tier_progress(user, partner)
        context["resellers"] = Partner.objects.visible_to(user).filter(parent=partner)
        context["can_edit"] = can_manage_partners(user)
        context["lifecycle"] = lifecycle_steps(partner.stage)
        context["onboarding"] = selectors.onboarding_progress(partner, user)
        context["can_complete_onboarding"] = can_complete_onboarding(user, partner)
        context["onboarding_form"] = OnboardingCompleteForm(prefix="onboarding")
        context["application"] = PartnerApplication.objects.visible_to(user).filter(partner=partner).first()
        return context


def lifecycle_steps(current: str) -> list[dict]:
    """The seven stages with each one marked done, current or ahead, for the progress bar."""
    values = Stage.values
    reached = values.index(current)
    return [
        {"value": value, "label": label, "state": "done" if i < reached else "current" if i == reached else "ahead"}
        for i, (value, label) in enumerate(Stage.choices)
    ]


class PartnerCreateView(ObjectCreateView):
    model = Partner
    form_class = PartnerForm

    def can_create(self):
        return can_manage_partners(self.request.user)

    def save(self, form):
        fields = {name: value for name, value in form.cleaned_data.items() if name != "reason"}
        return services.partner_create(actor=self.request.user, **fields)


class PartnerEditView(ObjectEditView):
    model = Partner
    form_class = PartnerForm

    def can_edit(self, obj):
        return can_manage_partners(self.request.user)

    def save(self, form):
        fields = {name: value for name, value in form.cleaned_data.items() if name != "reason"}
        reason = form.cleaned_data.get("reason") or "Changed by a channel manager"
        return services.partner_update(actor=self.request.user, partner=self.object, reason=reason, **fields)


# --- program tiers ----------------------------------------------------------------------------


class TierListView(ObjectListView):
    model = Tier
    table_class = TierTable
    filterset_class = TierFilterSet
    template_name = "partners/tier_list.html"
    title = "Program tiers"
    create_url_name = "tier_create"

    def get_queryset(self):
        # Meta.ordering is dropped by the GROUP BY of the count.
        return super().get_queryset().annotate(partner_count=Count("partners")).order_by("rank")

    def get_table_kwargs(self):
        # How many partners sit in each tier, and the edit links, are the vendor's.
        return {} if can_manage_partners(self.request.user) else {"exclude": ("partner_count", "edit")}

    def can_create(self):
        return can_manage_partners(self.request.user)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            exchange_rates=ExchangeRate.objects.visible_to(self.request.user),
            program_currency=selectors.program_currency(),
            **kwargs,
        )


class TierCreateView(ObjectCreateView):
    model = Tier
    form_class = TierForm

    def can_create(self):
        return can_manage_partners(self.request.user)

    def save(self, form):
        return services.tier_create(actor=self.request.user, **form.cleaned_data)


class TierEditView(ObjectEditView):
    model = Tier
    form_class = TierForm

    def can_edit(self, obj):
        return can_manage_partners(self.request.user)

    def save(self, form):
        return services.tier_update(actor=self.request.user, tier=self.object, **form.cleaned_data)


# --- tier evaluations -------------------------------------------------------------------------


class TierEvaluationListView(ObjectListView):
    """The managers' queue (filter status=proposed); a partner's admins see their own evaluations."""

    model = TierEvaluation
    table_class = TierEvaluationTable
    filterset_class = TierEvaluationFilterSet
    select_related = ("partner", "current_tier", "proposed_tier", "decided_by")
    title = "Tier evaluations"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not can_see_tier_evaluations(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class TierEvaluationDetailView(ObjectDetailView):
    model = TierEvaluation
    select_related = ("partner__tier", "current_tier", "proposed_tier", "decided_by")
    template_name = "partners/tier_evaluation_detail.html"
    context_object_name = "evaluation"

    def get_context_data(self, **kwargs):
        evaluation, user = self.object, self.request.user
        evidence = evaluation.evidence
        can_decide = can_manage_partners(user) and evaluation.status == EvaluationStatus.PROPOSED
        return super().get_context_data(
            evidence=evidence,
            tiers=evidence.get("tiers", []),
            rates=sorted(evidence.get("rates", {}).items()),
            revenue=[
                {
                    "currency": currency,
                    "amount": amount,
                    "converted": evidence["trailing_revenue"]["converted"].get(currency),
                    "rate": evidence.get("rates", {}).get(currency, {}).get("rate"),
                }
                for currency, amount in evidence["trailing_revenue"]["by_currency"].items()
            ],
            stale=evaluation.status == EvaluationStatus.PROPOSED
            and evaluation.partner.tier_id != evaluation.current_tier_id,
            can_decide=can_decide,
            decision_form=TierDecisionForm(prefix="decision"),
            **kwargs,
        )


@require_POST
@login_required
def tier_evaluation_confirm(request, pk):
    return _decide(request, pk, services.tier_evaluation_confirm, "confirmed")


@require_POST
@login_required
def tier_evaluation_dismiss(request, pk):
    return _decide(request, pk, services.tier_evaluation_dismiss, "dismissed")


def _decide(request, pk, service, verb):
    # Scoped first: another tenant's evaluation is a 404; the service answers 403 to non-managers.
    evaluation = get_object_or_404(TierEvaluation.objects.visible_to(request.user), pk=pk)
    form = TierDecisionForm(request.POST, prefix="decision")
    if form.is_valid():
        try:
            service(actor=request.user, evaluation=evaluation, note=form.cleaned_data["note"])
            messages.success(request, f"Tier evaluation of {evaluation.partner} for {evaluation.period} {verb}.")
            return redirect(evaluation)
        except ValidationError as error:
            add_errors(form, error)
    report_form_errors(request, form)
    return redirect(evaluation)


# --- recruit: the public application form -------------------------------------------------------

# Spam protection of /apply/: at most APPLY_RATE_LIMIT submissions per client IP address in a
# sliding hour (counted in the cache, so a cache shared by every web process is needed for the
# limit to hold across them: CACHE_URL=redis://… in production); a honeypot field that people
# never see. The client IP is allauth's (REMOTE_ADDR, or the address set by the trusted proxies
# of ALLAUTH_TRUSTED_PROXY_COUNT / ALLAUTH_TRUSTED_CLIENT_IP_HEADER), as for login rate limits.
APPLY_RATE_LIMIT = 5
APPLY_RATE_WINDOW = 3600  # seconds


def _apply_rate_limited(request) -> bool:
    """Count this submission; True when it is one too many for the client's address."""
    key = f"partner-apply:{get_adapter(request).get_client_ip(request)}"
    cache.add(key, 0, timeout=APPLY_RATE_WINDOW)  # the window starts with the first submission
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=APPLY_RATE_WINDOW)
        count = 1
    return count > APPLY_RATE_LIMIT


def partner_apply(request):
    """Public: a company applies to join the program (no account needed)."""
    form = PartnerApplicationForm(request.POST or None)
    if request.method == "POST":
        if _apply_rate_limited(request):
            form.is_valid()
            form.add_error(None, "Too many applications were sent from your network in the last hour. "
                                 "Please try again later.")  # fmt: skip
            return render(request, "partners/apply.html", {"form": form, "title": "Apply"}, status=429)
        if form.is_spam:
            # Thanked like anyone, so a bot learns nothing; nothing is stored or sent.
            return render(request, "partners/apply_thanks.html", {"title": "Thank you", "application": None})
        if form.is_valid():
            fields = {name: value for name, value in form.cleaned_data.items() if name != "fax"}
            try:
                application = services.partner_application_submit(**fields)
            except ValidationError as error:
                add_errors(form, error)
            else:
                return render(request, "partners/apply_thanks.html", {"title": "Thank you", "application": application})
    return render(request, "partners/apply.html", {"form": form, "title": "Apply"})


# --- recruit: the managers' review ----------------------------------------------------------------


class ManagersOnlyMixin:
    """A page of the vendor's: 403 for everyone signed in who is not a channel manager."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not can_review_applications(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class PartnerApplicationListView(ManagersOnlyMixin, ObjectListView):
    model = PartnerApplication
    table_class = PartnerApplicationTable
    filterset_class = PartnerApplicationFilterSet
    template_name = "partners/application_list.html"
    title = "Partner applications"

    def get_queryset(self):
        # Meta.ordering is dropped by the GROUP BY of the count.
        return super().get_queryset().annotate(comment_count=Count("comments")).order_by("-created_at", "-pk")

    def get_context_data(self, **kwargs):
        counts = selectors.application_counts(PartnerApplication.objects.visible_to(self.request.user))
        return super().get_context_data(
            status_counts=[(value, label, counts[value]) for value, label in ApplicationStatus.choices], **kwargs
        )


class PartnerApplicationDetailView(ObjectDetailView):
    """Scoped: a partner's user does not find an application (404, like any row out of scope)."""

    model = PartnerApplication
    select_related = ("decided_by", "partner")
    template_name = "partners/application_detail.html"
    context_object_name = "application"

    def get_context_data(self, **kwargs):
        application = self.object
        return super().get_context_data(
            comments=application.comments.select_related("author"),
            comment_form=ApplicationCommentForm(prefix="comment"),
            approve_form=ApplicationApproveForm(prefix="approve"),
            reject_form=ApplicationRejectForm(prefix="reject"),
            can_decide=application.status == ApplicationStatus.RECEIVED,
            **kwargs,
        )


@require_POST
@login_required
def application_comment(request, pk):
    return _application_action(
        request, pk, ApplicationCommentForm, "comment", services.partner_application_comment, "Comment added."
    )


@require_POST
@login_required
def application_approve(request, pk):
    return _application_action(
        request, pk, ApplicationApproveForm, "approve", services.partner_application_approve,
        "Application approved: the partner is created and its admin invited.",
    )  # fmt: skip


@require_POST
@login_required
def application_reject(request, pk):
    return _application_action(
        request, pk, ApplicationRejectForm, "reject", services.partner_application_reject,
        "Application rejected: the applicant is told why by email.",
    )  # fmt: skip


def _application_action(request, pk, form_class, prefix, service, success):
    # Scoped first: a partner's user does not find the application (404); the service says 403.
    application = get_object_or_404(PartnerApplication.objects.visible_to(request.user), pk=pk)
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            service(actor=request.user, application=application, **form.cleaned_data)
            messages.success(request, success)
            return redirect(application)
        except ValidationError as error:
            add_errors(form, error)
    report_form_errors(request, form)
    return redirect(application)


# --- onboard ------------------------------------------------------------------------------------------


class OnboardingListView(ManagersOnlyMixin, ObjectListView):
    """The onboarding pipeline: partners in the onboard stage and how far their checklist has come."""

    model = Partner
    table_class = OnboardingTable
    filterset_class = OnboardingFilterSet
    title = "Onboarding"

    def get_queryset(self):
        partners = super().get_queryset().filter(stage=Stage.ONBOARD).select_related("tier", "channel_manager")
        return selectors.partners_in_onboarding(partners).order_by("name")


@require_POST
@login_required
def onboarding_task_complete(request, pk):
    task = get_object_or_404(OnboardingTask.objects.visible_to(request.user).select_related("partner"), pk=pk)
    form = OnboardingCompleteForm(request.POST, prefix="onboarding")
    if form.is_valid():
        try:
            task = services.onboarding_task_complete(actor=request.user, task=task, note=form.cleaned_data["note"])
            messages.success(request, f"“{task.item.title}” done.")
        except ValidationError as error:
            add_errors(form, error)
    report_form_errors(request, form)
    return redirect(reverse("partner_detail", args=[task.partner_id]) + "#onboarding")


# --- strategize: target markets ------------------------------------------------------------------


class TargetMarketCreateView(ObjectCreateView):
    model = TargetMarket
    form_class = TargetMarketForm

    def can_create(self):
        return can_manage_partners(self.request.user)

    def save(self, form):
        return services.target_market_create(actor=self.request.user, **form.cleaned_data)


class TargetMarketEditView(ObjectEditView):
    model = TargetMarket
    form_class = TargetMarketForm

    def can_edit(self, obj):
        return can_manage_partners(self.request.user)

    def save(self, form):
        return services.target_market_update(actor=self.request.user, market=self.object, **form.cleaned_data)


@require_POST
@login_required
def target_market_delete(request, pk):
    market = get_object_or_404(TargetMarket.objects.visible_to(request.user), pk=pk)
    services.target_market_delete(actor=request.user, market=market)
    messages.success(request, f"Target market “{market}” removed.")
    return redirect("coverage")
