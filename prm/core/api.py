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
