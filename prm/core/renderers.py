"""The API's HTML view in a browser (DRF's browsable API), made safe for every route.

Its own module, like `pagination.py`: DRF imports the renderer classes named in the settings while
loading its views.
"""

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, without its raw-content form where a view reads its body itself.

    Ingestion (`events`, `events/batch`) has no parser classes: it reads the raw body to keep
    exact decimals and to stop at the size limit. DRF's form builder takes the view's first
    parser for the form's content type and failed there with a 500 for anyone opening those
    URLs in a browser. Those views post CloudEvents from a metering pipeline, not from a form.
    """

    def get_raw_data_form(self, data, view, method, request):
        if not view.parser_classes:
            return None
        return super().get_raw_data_form(data, view, method, request)
