"""File storage for private uploads: on disk under a root named by a setting, outside every public root, with no
URL. Such files are only ever streamed by permission-checked views."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateFileSystemStorage(FileSystemStorage):
    """Subclasses name the setting that holds their root (read at use time, so tests and deployments can point it
    elsewhere); the location and base URL given to the constructor are ignored."""

    root_setting = ""
    what = "Private files"

    def __init__(self, **kwargs):
        kwargs.pop("location", None)
        kwargs.pop("base_url", None)
        super().__init__(**kwargs)

    @property
    def base_location(self):
        return getattr(settings, self.root_setting)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise NotImplementedError(f"{self.what} have no URL.")
