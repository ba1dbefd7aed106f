# Its own module: DRF imports the default pagination class while loading its generic views,
# so it must not live beside code that imports those views.
from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`count`, `next`, `previous`, `results`; `?page_size=` up to 500."""

    page_size_query_param = "page_size"
    max_page_size = 500
