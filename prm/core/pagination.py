# Its own module: DRF imports the default pagination class while loading its generic views,
# so it must not live beside code that imports those views.
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, filters, pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`count`, `next`, `previous`, `results`; `?page_size=` up to 500."""

    page_size_query_param = "page_size"
    max_page_size = 500


class CursorPagination(pagination.CursorPagination):
    """`next`, `previous`, `results` (no `count`), for tables too large to count on every request.

    It pages by one unique, never-changing key that an index serves (by default the primary key,
    newest first): each page is `WHERE id < <last id of the page before> ORDER BY id DESC LIMIT n + 1`,
    as cheap on page 10,000 as on page 1, and a row added while a client pages never makes it see
    another row twice or miss one. A non-unique key (a timestamp) would need DRF's offset for ties.
    """

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = PageNumberPagination.max_page_size
    invalid_cursor_message = "Invalid cursor: follow a page's `next` or `previous` link as it is."
    cursor_query_description = "Where the page starts: taken from a page's `next` or `previous` link, never built."
    page_size_query_description = (
        f"Results per page (default {pagination.CursorPagination.page_size}, at most {max_page_size})."
    )

    def paginate_queryset(self, queryset, request, view=None):
        """The page in two short queries: its keys in the caller's scope, then its rows by key.

        The keys alone are read from an index without touching the rows; in one query SQLite, which
        finds a partner's events through the (customer, metric, time) index, reads and sorts every
        one of them whole first (ten times slower, measured on 400k events).
        """
        self._model = queryset.model  # decode_cursor checks the position against the key's field
        key = self.get_ordering(request, queryset, view)[0].lstrip("-")
        keys = super().paginate_queryset(queryset.select_related(None).only(key), request, view)
        if keys is None:
            return None
        # The rows by key alone, with the view's joins and prefetches but not its filters: the keys
        # were read in the caller's scope, and SQLite would again go through every scoped row.
        by_key = queryset.model._base_manager.prefetch_related(*queryset._prefetch_related_lookups)
        by_key.query.select_related = queryset.query.select_related
        rows = by_key.in_bulk([getattr(row, key) for row in keys], field_name=key)
        self.page = [rows[getattr(row, key)] for row in keys if getattr(row, key) in rows]  # unless just deleted
        return self.page

    def decode_cursor(self, request):
        """DRF's decoding, answered as 400 naming `cursor` (DRF says 404), with the position checked
        against the key's type: a forged `p=abc` would otherwise fail in the query (a 500)."""
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None
        if cursor is None or cursor.position is None:
            return cursor
        name = self.ordering[0].lstrip("-")
        field = self._model._meta.pk if name == "pk" else self._model._meta.get_field(name)
        try:
            position = field.to_python(cursor.position)
            field.run_validators(position)  # in the column's range (an out-of-range integer is an error)
        except DjangoValidationError:
            raise exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None
        return cursor._replace(position=position)


class CursorOrderingFilter(filters.OrderingFilter):
    """`?ordering=` limited to the view's `ordering_fields`, one key, ascending or descending: the
    orderings a cursor can page by. Anything else is a 400 naming `ordering` (DRF's filter would
    silently ignore it, and a client asking for another order would page in one it did not ask for)."""

    def allowed(self, view) -> list[str]:
        return [term for field in view.ordering_fields for term in (f"-{field}", field)]

    def get_ordering(self, request, queryset, view):
        requested = (request.query_params.get(self.ordering_param) or "").strip()
        if not requested:
            return self.get_default_ordering(view)
        allowed = self.allowed(view)
        if requested not in allowed:
            raise exceptions.ValidationError(
                {self.ordering_param: [f"Choose one of: {', '.join(allowed)} (pages are read with a cursor)."]}
            )
        return (requested,)

    def get_schema_operation_parameters(self, view):
        allowed = self.allowed(view)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": f"The order of the pages: one of {', '.join(allowed)} (the default is {allowed[0]}).",
                "schema": {"type": "string", "enum": allowed},
            }
        ]
