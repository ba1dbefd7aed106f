"""Single files that pip packages ship, served as our own static files (no CDN, ever).

plotly.js comes inside the `plotly` Python package; it is exposed as `vendor/plotly.min.js`
without copying it into the repository, so upgrading the package upgrades the script.
"""

import importlib.util
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

# static path → (package, file inside the package)
PACKAGE_FILES = {"vendor/plotly.min.js": ("plotly", "package_data/plotly.min.js")}


def _package_file(package: str, inner: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / inner
    return path if path.is_file() else None


class PackageFilesFinder(BaseFinder):
    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        found = []
        if path in PACKAGE_FILES:
            file = _package_file(*PACKAGE_FILES[path])
            if file is not None:
                found.append(str(file))
        if find_all or kwargs.get("all"):
            return found
        return found[0] if found else []

    def list(self, ignore_patterns):
        for static_path, (package, inner) in PACKAGE_FILES.items():
            file = _package_file(package, inner)
            if file is None:
                continue
            storage = FileSystemStorage(location=str(file.parent))
            storage.prefix = str(Path(static_path).parent)  # collectstatic puts it under vendor/
            yield file.name, storage
