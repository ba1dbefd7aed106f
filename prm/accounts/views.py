from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.decorators.http import require_POST
from django.views.generic import FormView

from prm.accounts import services
from prm.accounts.filtersets import InvitationFilterSet, UserFilterSet
from prm.accounts.forms import ApiKeyForm, InvitationAcceptForm, InvitationForm
from prm.accounts.models import ApiKey, Invitation, User
from prm.accounts.tables import InvitationTable, UserTable
from prm.core.views import ObjectListView, add_errors


class UserListView(ObjectListView):
    model = User
    table_class = UserTable
    filterset_class = UserFilterSet
    title = "People"
    select_related = ("membership__partner", "membership__customer")


class InvitationListView(ObjectListView):
    model = Invitation
    table_class = InvitationTable
    filterset_class = InvitationFilterSet
    select_related = ("partner", "customer", "invited_by")
    create_url_name = "invitation_create"

    def can_create(self):
        return bool(services.roles_invitable_by(self.request.user))


class InvitationCreateView(LoginRequiredMixin, FormView):
    form_class = InvitationForm
    template_name = "core/object_form.html"
    extra_context = {"title": "Invite someone"}

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not services.roles_invitable_by(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "actor": self.request.user}

    def form_valid(self, form):
        try:
            invitation, _token = services.invitation_create(invited_by=self.request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request,
            f"Invitation sent to {invitation.email}. The link works once, for {invitation.expires_at:%d %b %Y}.",
        )
        return redirect("invitation_list")


@require_POST
@login_required
def invitation_revoke(request, pk):
    invitation = get_object_or_404(Invitation.objects.visible_to(request.user), pk=pk)
    services.invitation_revoke(actor=request.user, invitation=invitation)
    messages.success(request, f"Invitation for {invitation.email} withdrawn.")
    return redirect("invitation_list")


class InvitationAcceptView(View):
    """The page an invitation link opens: choose a name and password, then you are in."""

    template_name = "accounts/invitation_accept.html"

    def get(self, request, token):
        try:
            invitation = services.invitation_for_token(token)
        except services.InvitationInvalid as error:
            return render(request, self.template_name, {"error": str(error)}, status=410)
        return render(request, self.template_name, {"invitation": invitation, "form": InvitationAcceptForm()})

    def post(self, request, token):
        form = InvitationAcceptForm(request.POST)
        try:
            invitation = services.invitation_for_token(token)
        except services.InvitationInvalid as error:
            return render(request, self.template_name, {"error": str(error)}, status=410)
        if form.is_valid():
            try:
                user = services.invitation_accept(
                    token=token, full_name=form.cleaned_data["full_name"], password=form.cleaned_data["password1"]
                )
            except services.InvitationInvalid as error:
                return render(request, self.template_name, {"error": str(error)}, status=410)
            except ValidationError as error:
                add_errors(form, error)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, f"Welcome, {user.display_name}.")
                return redirect("home")
        return render(request, self.template_name, {"invitation": invitation, "form": form}, status=400)


class ApiKeyListView(LoginRequiredMixin, View):
    """Your own API keys: create one (its secret is shown once), see when each was last used, revoke."""

    template_name = "accounts/api_keys.html"

    def get(self, request):
        return self._render(request, ApiKeyForm())

    def post(self, request):
        form = ApiKeyForm(request.POST)
        secret = None
        if form.is_valid():
            try:
                _key, secret = services.api_key_create(user=request.user, name=form.cleaned_data["name"])
            except ValidationError as error:
                add_errors(form, error)
            else:
                form = ApiKeyForm()
        return self._render(request, form, secret=secret, status=200 if form.is_valid() or secret else 400)

    def _render(self, request, form, secret=None, status=200):
        keys = ApiKey.objects.filter(user=request.user)
        return render(request, self.template_name, {"form": form, "keys": keys, "secret": secret}, status=status)


@require_POST
@login_required
def api_key_revoke(request, pk):
    api_key = get_object_or_404(ApiKey, pk=pk, user=request.user)
    services.api_key_revoke(actor=request.user, api_key=api_key)
    messages.success(request, f"API key “{api_key.name}” revoked. Requests using it now get 401.")
    return redirect("api_keys")
