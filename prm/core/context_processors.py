from django.conf import settings


def portal(request):
    """What every page's frame needs beyond the user: the vendor's name."""
    return {"vendor_name": settings.PRM_VENDOR_NAME}
