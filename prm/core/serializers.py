"""Serializers validate shape; the app's service does the write and the business checks."""

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers


class ServiceSerializerMixin:
    """Routes create/update through a service and turns its errors into DRF errors.

    A service raises Django's ValidationError (keyed by field) or PermissionDenied; the API
    answers 400 naming the field, or 403, and nothing is saved.
    """

    def perform_service_create(self, actor, data):
        raise NotImplementedError

    def perform_service_update(self, actor, instance, data):
        raise NotImplementedError

    def create(self, validated_data):
        return self._call(self.perform_service_create, self.context["request"].user, validated_data)

    def update(self, instance, validated_data):
        return self._call(self.perform_service_update, self.context["request"].user, instance, validated_data)

    @staticmethod
    def _call(function, *args):
        return call_service(function, *args)


def call_service(function, *args, **kwargs):
    """Call a service from the API: its ValidationError answers 400 naming the field, its
    PermissionDenied 403 (for actions that are not a serializer's create or update)."""
    try:
        return function(*args, **kwargs)
    except DjangoValidationError as error:
        detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
        raise serializers.ValidationError(detail) from None
    except PermissionDenied as error:
        raise exceptions.PermissionDenied(str(error) or None) from None


class ScopedRelatedFieldsMixin:
    """Related fields choose only among rows the caller may see.

    Declare `scoped_related = {"reseller": "partners.Partner"}` (or a callable taking the user
    and returning a queryset); an id outside the caller's scope then reads as "does not exist",
    never as "forbidden", so the API does not reveal other tenants' rows.
    """

    scoped_related: dict = {}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None:
            return fields
        for name, source in self.scoped_related.items():
            if name in fields and not fields[name].read_only:
                if callable(source):
                    fields[name].queryset = source(request.user)
                else:
                    fields[name].queryset = apps.get_model(source).objects.visible_to(request.user)
        return fields
