"""Image evidence of a mention: media fetched through the safe fetcher, matched, thumbnail kept."""

from __future__ import annotations

import base64
import io

from PIL import Image

from pipeline.images.evidence import image_evidence_for
from pipeline.images.fetcher import SafeMediaFetcher
from pipeline.settings import ImageSettings


def test_evidence_for_media_urls(media_server, sample_matcher):
    settings = ImageSettings(private_allowlist=[f"127.0.0.1:{media_server.port}"])
    urls = [f"{media_server.base}/post.jpg", f"{media_server.base}/animated.gif",
            "http://169.254.169.254/latest/meta-data/iam", f"{media_server.base}/not-an-image.png"]
    with SafeMediaFetcher(settings) as fetcher:
        evidence = image_evidence_for(urls, fetcher=fetcher, matcher=sample_matcher, thumbnail_px=128)
    assert [e["media_url"] for e in evidence] == urls
    post = evidence[0]
    names = {m["asset"] for m in post["matches"]}
    # The post is a copy of an intranet photo with the IMS logo pasted on it: both are found.
    assert names == {"ims-logo", "intranet-photo-team-day"}
    logo = next(m for m in post["matches"] if m["asset"] == "ims-logo")
    x, y, w, h = logo["box"]
    assert abs(x - 500) < 25 and abs(y - 80) < 25 and abs(w - 300) < 40 and abs(h - 125) < 30
    thumb = Image.open(io.BytesIO(base64.b64decode(post["thumbnail"].split(",", 1)[1])))
    assert max(thumb.size) == 128 and post["size"] == [1024, 768]
    assert evidence[1] == {"media_url": urls[1], "matches": []}
    assert evidence[2]["matches"] == [] and "metadata" in evidence[2]["error"]
    assert evidence[3]["matches"] == [] and "not an image" in evidence[3]["error"]
