"""API base classes: viewsets that scope every action to what the caller may see."""

from rest_framework import permissions, viewsets


class ScopedViewSetMixin:
    """Restricts every action (list, retrieve, update …) to `visible_to(request.user)`.

    DRF looks objects up inside `get_queryset()`, so an object outside the caller's scope
    answers 404 before any permission check can reveal that it exists.
    """

    model = None
    select_related: tuple[str, ...] = ()

    def get_queryset(self):
        queryset = self.model.objects.visible_to(self.request.user)
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        return queryset.order_by(*self.model._meta.ordering or ["pk"])


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class WritePermission(permissions.IsAuthenticated):
    """Reads need only a signed-in caller (scope does the rest); writes ask the viewset."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if request.method == "POST" and getattr(view, "action", None) == "create":
            return view.can_create()
        return True

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return view.can_change(obj)


class ScopedModelViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """Scoped reads and writes; nothing is deleted through the API (records are deactivated)."""

    http_method_names = ["get", "post", "patch", "put", "head", "options"]
    permission_classes = [WritePermission]

    def can_create(self) -> bool:
        return False

    def can_change(self, obj) -> bool:
        return False


_ERROR_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "What went wrong, for errors that are not about one field.",
}
_VALIDATION_ERROR = {
    "type": "object",
    "additionalProperties": {},
    "description": (
        'Invalid input: each field (or `non_field_errors`) names its messages, e.g. `{"email": ["Enter a valid '
        'email address."]}`; nested fields nest. A request that cannot be read at all answers `{"detail": "…"}`.'
    ),
}
_ERROR_RESPONSES = {
    "400": ("Invalid input, naming each field and its messages.", "ValidationError"),
    "401": ("No credentials, or an invalid or revoked API key.", "ErrorDetail"),
    "403": ("Signed in, but this role may not do this.", "ErrorDetail"),
    "404": ("Not found, or outside your scope (other tenants' rows are never revealed).", "ErrorDetail"),
    "429": ("Over this key's request rate; `Retry-After` says when to try again.", "ErrorDetail"),
}


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation documents the errors every view can
    answer (`prm/core/errors.py` shapes them), so clients and schema checks know them."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorDetail", _ERROR_DETAIL)
    schemas.setdefault("ValidationError", _VALIDATION_ERROR)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code, (description, component) in _ERROR_RESPONSES.items():
                if code in responses:
                    continue
                responses[code] = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
                }
    return result
