"""Image evidence for one mention: fetch its media safely, match them against the registered assets, and keep
a small thumbnail of each matching image (stored with the evidence at ingest, never hot-linked).

    fetcher = SafeMediaFetcher(settings.images)
    matcher = AssetRegistry(settings.images.assets_dir).matcher(min_inliers=settings.images.min_inliers)
    evidence = image_evidence_for(mention.media_urls, fetcher=fetcher, matcher=matcher)
    logo_misuse = any(e["matches"] for e in evidence)

Blocking and CPU-bound: call it from a worker thread or process (``loop.run_in_executor``), never on the
event loop. Media that cannot be fetched are reported with an ``error`` and no matches.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Callable, Iterable
from functools import partial

from PIL import Image

from pipeline.images.errors import ImageError
from pipeline.images.fetcher import SafeMediaFetcher
from pipeline.images.matching import ImageMatcher
from pipeline.settings import ImageSettings

logger = logging.getLogger(__name__)

#: Longest side of the stored thumbnail, and most media looked at per mention.
DEFAULT_THUMBNAIL_PX = 256
MAX_MEDIA_PER_MENTION = 8


def thumbnail_data_uri(image: Image.Image, *, max_px: int = DEFAULT_THUMBNAIL_PX) -> str:
    """A small JPEG of ``image`` as a ``data:`` URI (a few kB), for the dashboard."""
    thumb = image.convert("RGB")
    thumb.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_evidence_for(media_urls: Iterable[str], *, fetcher: SafeMediaFetcher, matcher: ImageMatcher,
                       thumbnail_px: int = DEFAULT_THUMBNAIL_PX) -> list[dict]:
    """One entry per media URL (at most ``MAX_MEDIA_PER_MENTION``):
    ``{"media_url", "matches": [{"asset", "kind", "score", "box", "method"}], "thumbnail", "size"}`` for a
    matching image, ``{"media_url", "matches": []}`` for one without a match, plus ``"error"`` when it
    could not be fetched or decoded."""
    evidence: list[dict] = []
    for url in list(media_urls)[:MAX_MEDIA_PER_MENTION]:
        entry: dict = {"media_url": url, "matches": []}
        try:
            media = fetcher.fetch(url)
            matches = matcher.match(media.image)
        except ImageError as exc:
            logger.info("media %s not matched: %s", url, exc)
            entry["error"] = str(exc)
            evidence.append(entry)
            continue
        if matches:
            entry["matches"] = [m.to_json() for m in matches]
            entry["thumbnail"] = thumbnail_data_uri(media.image, max_px=thumbnail_px)
            entry["size"] = [media.image.width, media.image.height]
        evidence.append(entry)
    return evidence


def media_evidence_function(settings: ImageSettings) -> Callable[[list[str]], list[dict]] | None:
    """What the classify agent calls on a mention's media URLs, or ``None`` when no asset is registered."""
    from pipeline.images.assets import AssetRegistry

    registry = AssetRegistry(settings.assets_dir)
    if not registry.list():
        return None
    fetcher = SafeMediaFetcher(settings)
    matcher = registry.matcher(min_inliers=settings.min_inliers, pdq_max_distance=settings.pdq_max_distance,
                               min_coverage=settings.min_coverage)
    return partial(image_evidence_for, fetcher=fetcher, matcher=matcher, thumbnail_px=settings.thumbnail_px)
