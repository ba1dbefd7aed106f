"""Content-Security-Policy on every response.

The portal's pages load scripts, styles, images and fonts from its own static files only, with no
inline script or event handler (portal.js and charts.js attach behaviour; chart data travels in
`json_script` blocks, which are data, not script). So the policy is strict: `'self'` only.

plotly.js styles the charts it draws through the CSSOM (element.style, insertRule), which CSP allows,
and draws some of its marks from data: URIs, hence `img-src data:`. It also adds two <style> elements
when it loads: an empty one it then fills through insertRule, and a fixed one (maplibre's CSS). Both
are allowed by the hash of their exact text, read from the plotly.js we serve, so no other inline
style is: `style-src 'self' 'sha256-…'`, never 'unsafe-inline'.

The API docs page (Swagger UI from drf-spectacular-sidecar, served locally) has one inline <style>
block in drf-spectacular's template and React-set style attributes: styles may be inline there,
scripts may not (its init script is a separate, same-origin request: SpectacularSwaggerSplitView).
"""

import base64
import hashlib
import re
from functools import cache

from django.conf import settings

from prm.core.staticfinders import PACKAGE_FILES, _package_file

# `e.textContent='…'` of a <style> element plotly.js creates (quoted either way, no escapes inside).
_STYLE_TEXT = re.compile(r"""createElement\("style"\);[^;]{0,200}?\.textContent=(['"])((?:(?!\1)[^\\])*)\1""")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@cache
def plotly_style_hashes() -> tuple[str, ...]:
    """The CSP hashes of the <style> elements plotly.js inserts (see the module docstring)."""
    path = _package_file(*PACKAGE_FILES["vendor/plotly.min.js"])
    if path is None:
        return ()
    source = path.read_text(encoding="utf-8")
    return (_hash(""), *sorted({_hash(match.group(2)) for match in _STYLE_TEXT.finditer(source)}))


def _header(policy: dict[str, list[str]]) -> str:
    return "; ".join(f"{directive} {' '.join(sources)}".strip() for directive, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        policy = {**settings.PRM_CSP}
        policy["style-src"] = [*policy.get("style-src", ["'self'"]), *plotly_style_hashes()]
        self.default = _header(policy)
        self.overrides = [
            (prefix, _header({**policy, **extra})) for prefix, extra in settings.PRM_CSP_PATH_OVERRIDES.items()
        ]
        self.header = (
            "Content-Security-Policy-Report-Only" if settings.PRM_CSP_REPORT_ONLY else "Content-Security-Policy"
        )

    def __call__(self, request):
        response = self.get_response(request)
        if self.header not in response:
            response[self.header] = self.policy_for(request.path)
        return response

    def policy_for(self, path: str) -> str:
        for prefix, header in self.overrides:
            if path.startswith(prefix):
                return header
        return self.default
