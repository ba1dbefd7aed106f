"""Generic views: every one starts from `visible_to(user)` before it looks anything up.

An app's list page is a few declarative lines:

    class CustomerListView(ObjectListView):
        model = Customer
        table_class = CustomerTable
        filterset_class = CustomerFilterSet

and gets filtering, sorting, pagination, CSV export (`?export=csv`) and scoping.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import HttpResponseRedirect, JsonResponse
from django.views.generic import CreateView, DetailView, UpdateView
from django_filters.views import FilterView
from django_tables2 import LazyPaginator, RequestConfig, SingleTableMixin

from prm.core.exports import table_csv_response


class ScopedQuerysetMixin(LoginRequiredMixin):
    """Restricts the view's queryset to what the signed-in user may see."""

    model = None
    select_related: tuple[str, ...] = ()

    def get_queryset(self):
        queryset = self.model.objects.visible_to(self.request.user)
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        return queryset


class ObjectListView(ScopedQuerysetMixin, SingleTableMixin, FilterView):
    template_name = "core/object_list.html"
    # The table paginates; the ListView must not paginate the same rows again (a second COUNT).
    paginate_by = None
    table_pagination = {"per_page": 25}
    title: str = ""
    create_url_name: str | None = None

    def can_create(self) -> bool:
        return False

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            filterset = self.get_filterset(self.get_filterset_class())
            queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else self.get_queryset()
            table = self.get_table_class()(queryset)
            # The request's sort, but no pagination: a paginator would count every row for nothing.
            RequestConfig(request, paginate=False).configure(table)
            return table_csv_response(table, self.get_title())
        return super().get(request, *args, **kwargs)

    def get_title(self) -> str:
        return self.title or self.model._meta.verbose_name_plural.capitalize()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = self.get_title()
        # A list too long to count on every page (events) paginates lazily and shows no total.
        context["uncounted"] = isinstance(getattr(context.get("table"), "paginator", None), LazyPaginator)
        context["create_url_name"] = self.create_url_name if self.can_create() else None
        query = self.request.GET.copy()
        query.pop("page", None)
        query["export"] = "csv"
        context["export_query"] = query.urlencode()
        return context


class ObjectDetailView(ScopedQuerysetMixin, DetailView):
    """Another tenant's object is not in the queryset, so it answers 404."""


class ServiceFormMixin:
    """Saves a valid form through the app's service; the service's ValidationError goes back
    to the form, on the field it names, so bad input never half-saves."""

    def save(self, form):
        raise NotImplementedError

    def form_valid(self, form):
        try:
            self.object = self.save(form)
        except ValidationError as error:
            add_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"{self.object._meta.verbose_name.capitalize()} “{self.object}” saved.")
        return HttpResponseRedirect(self.get_success_url())

    def get_success_url(self):
        return self.object.get_absolute_url()


def add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def report_form_errors(request, form) -> None:
    """A form posted from a detail page that redirects back: its errors become messages there."""
    for field, errors in form.errors.items():
        label = "" if field == "__all__" else f"{form[field].label if field in form.fields else field}: "
        messages.error(request, f"{label}{' '.join(errors)}")


class ObjectCreateView(LoginRequiredMixin, ServiceFormMixin, CreateView):
    template_name = "core/object_form.html"

    def can_create(self) -> bool:
        raise NotImplementedError

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not self.can_create():
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(title=f"New {self.model._meta.verbose_name}", **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "actor": self.request.user}


class ObjectEditView(ScopedQuerysetMixin, ServiceFormMixin, UpdateView):
    """Edits an object the user can see (404 otherwise) and may change (403 otherwise)."""

    template_name = "core/object_form.html"

    def can_edit(self, obj) -> bool:
        raise NotImplementedError

    def get_object(self, queryset=None):
        obj = super().get_object(queryset)
        if not self.can_edit(obj):
            raise PermissionDenied
        return obj

    def get_context_data(self, **kwargs):
        return super().get_context_data(title=f"Edit {self.object}", **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "actor": self.request.user}


def healthz(request):
    """200 when the database answers; 503 otherwise (for load balancers and probes)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return JsonResponse({"status": "unavailable", "database": str(error)}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})
