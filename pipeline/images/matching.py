"""Matching images against the registered IMS assets (``pipeline/images/assets.py``).

Two complementary matchers, both run on every image:

* **keypoints** (every kind): SIFT keypoints of the asset (described at several sizes), matched to the
  image's (SIFT on a half-size, contrast-equalised copy) with a ratio test, then RANSAC: a similarity to find
  the consistent matches, a homography on them. A match needs ``min_inliers`` inliers spread over at least
  ``min_coverage`` of the asset's area (so the lettering alone, imitated by another "IMS" design, is not
  enough) and a plausible outline. Finds the logo small inside a larger picture, rotated, recoloured or grey, partly covered,
  photographed at an angle or screenshotted; and a copied photo that was cropped or has an overlay. The logo is
  also stored as its inverted grey image, so a light-on-dark recolouring matches too. Gives a box and a score
  ``inliers / (inliers + min_inliers)`` (0.5 = exactly ``min_inliers`` geometrically consistent matches).
* **PDQ** (photos and artwork): Meta's perceptual hash of the whole image; Hamming distance up to
  ``pdq_max_distance`` (of 256 bits) is a near-duplicate (resized, recompressed, brightness/contrast changed).

    from pipeline.images.matching import ImageMatcher, extract_features
    matcher = ImageMatcher([extract_features(logo_image, name="ims-logo", kind="logo")])
    for match in matcher.match(image): print(match.asset, match.score, match.box)

CPU-bound: never call it on the event loop (run it in an executor).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

ASSET_KINDS = ("logo", "photo", "artwork")
#: Images are matched at this longest side (larger ones are scaled down first).
DEFAULT_WORK_MAX_SIDE = 1024
DEFAULT_MIN_INLIERS = 9
DEFAULT_PDQ_MAX_DISTANCE = 40
#: PDQ's own quality score (0-100) below which a hash is not used (its authors' recommendation).
PDQ_MIN_QUALITY = 50
#: Share of the asset's area the convex hull of the inliers must cover.
DEFAULT_MIN_COVERAGE = 0.1
RATIO = 0.85
RANSAC_REPROJ_PX = 6.0
#: Asset points closer than this (asset pixels) are the same place described at another size.
SAME_POINT_PX = 6.0
#: SIFT upsamples its input 2x internally; feeding it a half-size image gives keypoints at the original
#: resolution's scales at a quarter of the cost.
SIFT_PRESCALE = 0.5
ASSET_MAX_SIDE = 640
#: Sizes (x the asset's, capped at ASSET_MAX_SIDE) at which assets are described.
LOGO_SCALES = (2.0, 1.0, 0.5)
PHOTO_SCALES = (1.0, 0.5)
ASSET_MAX_FEATURES = 1500
QUERY_MAX_FEATURES = 2500
#: SIFT's contrast threshold for images (0.04 is its default): lower finds faint, small logos.
QUERY_CONTRAST = 0.025
QUERY_PRESCALE = 0.5
#: Local contrast equalisation before SIFT, for logos in dark or washed-out corners.
QUERY_CLAHE = True


@dataclass(frozen=True)
class Match:
    """One asset found in one image. ``box`` is ``(x, y, w, h)`` in the original image's pixels, or None
    for a whole-image (PDQ) match."""

    asset: str
    kind: str
    score: float
    box: tuple[int, int, int, int] | None
    method: str

    def to_json(self) -> dict:
        return {"asset": self.asset, "kind": self.kind, "score": round(self.score, 4),
                "box": list(self.box) if self.box is not None else None, "method": self.method}


@dataclass
class AssetFeatures:
    """What matching needs of one asset: keypoints + SIFT descriptors of each view, its size, its PDQ hash."""

    name: str
    kind: str
    width: int
    height: int
    views: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (points Nx2, descriptors Nx128)
    pdq: np.ndarray | None = None  # 256 bools

    def to_npz(self) -> bytes:
        arrays: dict[str, np.ndarray] = {"meta": np.array([self.width, self.height], dtype=np.int64)}
        for i, (pts, desc) in enumerate(self.views):
            arrays[f"pts{i}"], arrays[f"desc{i}"] = pts, desc
        if self.pdq is not None:
            arrays["pdq"] = self.pdq.astype(np.uint8)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_npz(cls, data: bytes, *, name: str, kind: str) -> AssetFeatures:
        with np.load(io.BytesIO(data)) as z:
            width, height = (int(v) for v in z["meta"])
            views, i = [], 0
            while f"pts{i}" in z:
                views.append((z[f"pts{i}"], z[f"desc{i}"]))
                i += 1
            pdq = z["pdq"].astype(bool) if "pdq" in z else None
        return cls(name=name, kind=kind, width=width, height=height, views=views, pdq=pdq)


def _grey(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    return np.asarray(image.convert("L"))


def _sift(grey: np.ndarray, max_features: int, contrast: float = 0.04,
          prescale: float = SIFT_PRESCALE) -> tuple[np.ndarray, np.ndarray]:
    """SIFT on a half-size copy; points returned in ``grey``'s coordinates."""
    h, w = grey.shape
    small = grey if prescale == 1.0 else cv2.resize(
        grey, (max(1, round(w * prescale)), max(1, round(h * prescale))), interpolation=cv2.INTER_AREA)
    keypoints, desc = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=contrast).detectAndCompute(small, None)
    if desc is None or not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    pts = np.array([kp.pt for kp in keypoints], dtype=np.float32) / prescale
    return pts, desc.astype(np.float32)


def pdq_hash(image: Image.Image) -> np.ndarray | None:
    """The 256-bit PDQ hash of an image (as 256 bools), or None when PDQ rates the image too flat to hash
    reliably (quality below ``PDQ_MIN_QUALITY``)."""
    import pdqhash

    rgb = image.convert("RGB")
    if max(rgb.size) > 256:
        rgb.thumbnail((256, 256), Image.Resampling.BILINEAR)
    bits, quality = pdqhash.compute(np.asarray(rgb))
    return bits.astype(bool) if quality >= PDQ_MIN_QUALITY else None


def extract_features(image: Image.Image, *, name: str, kind: str) -> AssetFeatures:
    """Features of an asset image, described at several sizes (a logo is usually found much smaller than it
    was registered). Logos also get an inverted view (light-on-dark recolouring)."""
    if kind not in ASSET_KINDS:
        raise ValueError(f"kind must be one of {ASSET_KINDS}, not {kind!r}")
    grey = _grey(image)
    h, w = grey.shape
    base = min(1.0, ASSET_MAX_SIDE / max(h, w))
    scales = [f * base for f in (LOGO_SCALES if kind == "logo" else PHOTO_SCALES)]
    views = []
    for g in ([grey, 255 - grey] if kind == "logo" else [grey]):
        all_pts, all_desc = [], []
        for scale in scales:
            interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            resized = cv2.resize(g, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)
            pts, desc = _sift(resized, ASSET_MAX_FEATURES)
            all_pts.append(pts / scale)
            all_desc.append(desc)
        views.append((np.concatenate(all_pts).astype(np.float32), np.concatenate(all_desc).astype(np.float32)))
    return AssetFeatures(name=name, kind=kind, width=w, height=h, views=views,
                         pdq=pdq_hash(image) if kind != "logo" else None)


def _plausible_quad(quad: np.ndarray, min_side: float) -> bool:
    """The asset outline mapped into the image must be a convex, not degenerate, not wildly skewed quad."""
    if not np.all(np.isfinite(quad)):
        return False
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    if sides.min() < min_side:
        return False
    return bool(sides[0] / sides[2] < 4 and sides[2] / sides[0] < 4 and sides[1] / sides[3] < 4
                and sides[3] / sides[1] < 4)


def _same_place_index(pts: np.ndarray) -> np.ndarray:
    """Row i: the indices of every point within ``SAME_POINT_PX`` of point i (itself included), padded with
    i. Computed in blocks so a large asset needs no N x N matrix at once."""
    groups: list[np.ndarray] = []
    for lo in range(0, len(pts), 512):
        block = np.linalg.norm(pts[lo:lo + 512, None, :] - pts[None, :, :], axis=2) <= SAME_POINT_PX
        groups.extend(np.flatnonzero(row) for row in block)
    width = max(len(g) for g in groups)
    out = np.empty((len(pts), width), dtype=np.int32)
    for i, g in enumerate(groups):
        out[i, :len(g)] = g
        out[i, len(g):] = i
    return out


class ImageMatcher:
    """Finds registered assets in images (see the module docstring)."""

    def __init__(self, assets: list[AssetFeatures], *, min_inliers: int = DEFAULT_MIN_INLIERS,
                 pdq_max_distance: int = DEFAULT_PDQ_MAX_DISTANCE,
                 work_max_side: int = DEFAULT_WORK_MAX_SIDE, min_coverage: float = DEFAULT_MIN_COVERAGE) -> None:
        if min_inliers < 4:
            raise ValueError("min_inliers must be at least 4 (a homography needs 4 points)")
        self.assets = assets
        self.min_inliers = min_inliers
        self.pdq_max_distance = pdq_max_distance
        self.work_max_side = work_max_side
        self.min_coverage = min_coverage
        # All views' descriptors in one matrix.
        # Per view: (asset index, points, same-place index, first and last column in the matrix).
        self._views: list[tuple[int, np.ndarray, np.ndarray, int, int]] = []
        blocks, offset = [], 0
        for a, asset in enumerate(assets):
            for pts, desc in asset.views:
                if len(desc) >= 3:
                    self._views.append((a, pts, _same_place_index(pts), offset, offset + len(desc)))
                    blocks.append(desc)
                    offset += len(desc)
        self._train = np.concatenate(blocks).astype(np.float32) if blocks else np.zeros((0, 128), np.float32)
        self._train_sq = np.einsum("ij,ij->i", self._train, self._train)

    def match(self, image: Image.Image) -> list[Match]:
        """Every asset found in ``image``, best score first (at most one match per asset)."""
        grey = _grey(image)
        h, w = grey.shape
        scale = min(1.0, self.work_max_side / max(h, w))
        if scale < 1.0:
            grey = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        if QUERY_CLAHE:
            grey = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)
        pts, desc = _sift(grey, QUERY_MAX_FEATURES, QUERY_CONTRAST, QUERY_PRESCALE)
        pdq = pdq_hash(image) if any(a.pdq is not None for a in self.assets) else None
        best: dict[int, Match] = {}
        for a, asset in enumerate(self.assets):
            if asset.pdq is not None and pdq is not None:
                distance = int(np.count_nonzero(asset.pdq != pdq))
                if distance <= self.pdq_max_distance:
                    best[a] = Match(asset.name, asset.kind, 1.0 - distance / 256, None, "pdq")
        if len(desc) >= self.min_inliers and len(self._train):
            desc_sq = np.einsum("ij,ij->i", desc, desc)[:, None]
            for a, apts, near, lo, hi in self._views:
                # Squared L2 distances, image descriptors x this view's descriptors (one view at a time, so
                # memory stays bounded however many assets are registered).
                dist = desc_sq + self._train_sq[None, lo:hi] - 2.0 * (desc @ self._train[lo:hi].T)
                found = self._match_view(self.assets[a], apts, near, dist, pts, scale, (w, h))
                if found is not None and (a not in best or found.score > best[a].score):
                    best[a] = found
        return sorted(best.values(), key=lambda m: -m.score)

    def _match_view(self, asset: AssetFeatures, apts: np.ndarray, near: np.ndarray, dist: np.ndarray,
                    pts: np.ndarray, scale: float, size: tuple[int, int]) -> Match | None:
        # Ratio test against the nearest asset point at another place (the asset is described at several
        # sizes, so the runner-up is often the same point at another size).
        rows = np.arange(len(dist))
        first = np.argmin(dist, axis=1)
        d1 = np.maximum(dist[rows, first], 0.0)
        dist[rows[:, None], near[first]] = np.inf  # in place: dist is this call's own array
        d2 = np.min(dist, axis=1)
        keep = d1 < (RATIO * RATIO) * d2
        src, dst = apts[first[keep]], pts[keep]
        if len(src) < self.min_inliers:
            return None
        # A similarity (2-point samples: fast even at a low inlier ratio) finds the consistent set; a
        # homography fitted on it allows for perspective (a photographed screen).
        A, amask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                               ransacReprojThreshold=RANSAC_REPROJ_PX * 2,
                                               maxIters=1000, confidence=0.995)
        if A is None or amask is None or int(amask.sum()) < self.min_inliers:
            return None
        consistent = amask.ravel().astype(bool)
        H, mask = cv2.findHomography(src[consistent], dst[consistent], cv2.RANSAC, RANSAC_REPROJ_PX,
                                     maxIters=200, confidence=0.995)
        if H is None or mask is None:
            return None
        # Count inliers once per image point (many asset points can land on one image keypoint).
        inlier_dst = dst[consistent][mask.ravel().astype(bool)]
        inliers = len(np.unique(np.round(inlier_dst).astype(np.int32), axis=0)) if len(inlier_dst) else 0
        if inliers < self.min_inliers:
            return None
        # The inliers must spread over the asset, not sit on one detail of it (e.g. only on its lettering,
        # which another design of the same letters can imitate).
        inlier_src = src[consistent][mask.ravel().astype(bool)].astype(np.float32)
        coverage = cv2.contourArea(cv2.convexHull(inlier_src.reshape(-1, 1, 2))) / float(asset.width * asset.height)
        if coverage < self.min_coverage:
            return None
        corners = np.array([[0, 0], [asset.width, 0], [asset.width, asset.height], [0, asset.height]],
                           dtype=np.float32)
        quad = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), H).reshape(-1, 2)
        if not _plausible_quad(quad, min_side=8.0):
            return None
        quad = quad / scale
        x0, y0 = np.floor(quad.min(axis=0))
        x1, y1 = np.ceil(quad.max(axis=0))
        x0, y0 = max(0.0, x0), max(0.0, y0)
        x1, y1 = min(float(size[0]), x1), min(float(size[1]), y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        box = (int(x0), int(y0), int(x1 - x0), int(y1 - y0))
        score = inliers / (inliers + self.min_inliers)
        return Match(asset.name, asset.kind, float(score), box, "keypoints")
