"""Error pages in the portal's style; API paths answer JSON instead of HTML."""

from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def permission_denied(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return render(request, "403.html", status=403)


def page_not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return JsonResponse({"detail": "Server error. It has been logged."}, status=500)
    # No context processors: the error may have come from them or from the database.
    return HttpResponseServerError(loader.get_template("500.html").render())


def api_exception_handler(exc, context):
    """DRF's handler (`{"field": ["message"]}` for invalid input, `{"detail": "…"}` otherwise),
    plus: a Django ValidationError raised below a view answers 400 naming its fields, not 500.

    Anything else unexpected is left to Django, whose handler500 above answers the API in JSON.
    """
    from django.core.exceptions import ValidationError as DjangoValidationError
    from rest_framework import exceptions
    from rest_framework.views import exception_handler

    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # A bare list of messages (a serializer-level error raised as a list): name where it belongs.
        response.data = {"non_field_errors": response.data}
    return response
