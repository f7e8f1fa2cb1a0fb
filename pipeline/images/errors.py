"""Errors of the image stage (all under ``pipeline.errors.MonitorError``).

    MonitorError
    └── ImageError                  anything the image stage refuses or fails at
        ├── MediaRefused            the fetcher would not fetch it: ``reason`` (scheme, forbidden address,
        │                           too many redirects, too large, not an image, decompression bomb...)
        │   └── ForbiddenAddress    the host is, or resolves to, a private/loopback/link-local/metadata address
        ├── MediaFetchFailed        network error or an HTTP error status (``status`` when there was one)
        └── AssetError              the asset registry refused an operation (unknown name, duplicate, bad kind)
"""

from __future__ import annotations

from pipeline.errors import MonitorError


class ImageError(MonitorError):
    pass


class MediaRefused(ImageError):
    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ForbiddenAddress(MediaRefused):
    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message, reason="forbidden_address")
        self.address = address


class MediaFetchFailed(ImageError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AssetError(ImageError):
    pass
