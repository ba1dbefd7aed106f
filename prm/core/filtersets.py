"""Helpers for FilterSets: choice lists are scoped like everything else."""

import django_filters
from django.core.validators import RegexValidator
from django_filters.widgets import BooleanWidget

_PERIOD = RegexValidator(r"^\d{4}-(0[1-9]|1[0-2])$", "Enter a billing period as YYYY-MM, e.g. 2026-10.")


class AnyYesNoWidget(BooleanWidget):
    """A yes/no filter whose empty choice reads "Any" (django-filter's says "Unknown")."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("", "Any"), ("true", "Yes"), ("false", "No")]


def yes_no_filter(**kwargs) -> django_filters.BooleanFilter:
    return django_filters.BooleanFilter(widget=AnyYesNoWidget, **kwargs)


def visible_choices(model, **filters):
    """A queryset callable for ModelChoiceFilter: only rows the requesting user may see.

    django-filter's generated choice fields list every row of the related model; on a tenant
    model that would print other partners' names into the filter form.
    """

    def queryset(request):
        if request is None:
            return model.objects.none()
        rows = model.objects.visible_to(request.user)
        # A filter across a to-many relation (a distributor has many resellers) repeats rows.
        return rows.filter(**filters).distinct() if filters else rows

    return queryset


def period_bound(lookup_expr: str, field_name: str = "period") -> django_filters.CharFilter:
    """One end of a range of billing periods, inclusive ("gte" from, "lte" to). Periods are stored as
    YYYY-MM text, which sorts like time; a malformed bound is a form error, not an empty list."""
    label = "From period (YYYY-MM)" if lookup_expr == "gte" else "To period (YYYY-MM)"
    return django_filters.CharFilter(field_name=field_name, lookup_expr=lookup_expr, label=label, validators=[_PERIOD])
