"""The registry of IMS's own images: the logo, photos from the internet/intranet sites, company artwork.

A folder (``settings.images.assets_dir``, default ``<infra home>/assets``) holding, per asset, the original
file, its matching features (``<name>.features.npz``: SIFT keypoints and PDQ hash) and one ``index.json``.

    ims-monitor assets add logo.png --kind logo --name ims-logo
    ims-monitor assets add-samples          # the demo's drawn IMS logo, intranet photos and artwork
    ims-monitor assets list
    ims-monitor assets remove ims-logo

    registry = AssetRegistry(settings.images.assets_dir)
    matcher = registry.matcher(min_inliers=settings.images.min_inliers, min_coverage=settings.images.min_coverage)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from pipeline.images.decoding import DEFAULT_MAX_PIXELS, decode_image
from pipeline.images.errors import AssetError
from pipeline.images.matching import ASSET_KINDS, AssetFeatures, ImageMatcher, extract_features
from schemas.validation import utc_now_iso

INDEX_FILE = "index.json"
MAX_ASSET_BYTES = 50 * 1024 * 1024
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


@dataclass(frozen=True)
class AssetEntry:
    name: str
    kind: str
    file: str
    sha256: str
    width: int
    height: int
    added_at: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")[:80] or "asset"


class AssetRegistry:
    """The registered assets in ``root`` (see the module docstring). Not safe for concurrent writers."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ----------------------------------------------------------------------------------------- index
    def _read_index(self) -> list[AssetEntry]:
        path = self.root / INDEX_FILE
        if not path.exists():
            return []
        return [AssetEntry(**row) for row in json.loads(path.read_text(encoding="utf-8"))["assets"]]

    def _write_index(self, entries: list[AssetEntry]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".index-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"assets": [asdict(e) for e in entries]}, fh, indent=2)
        os.chmod(tmp, 0o644)  # like the asset files beside it (mkstemp makes it 0600)
        os.replace(tmp, self.root / INDEX_FILE)

    def list(self) -> list[AssetEntry]:
        return sorted(self._read_index(), key=lambda e: e.name)

    # ----------------------------------------------------------------------------------------- writes
    def add_bytes(self, data: bytes, *, kind: str, name: str, suffix: str = ".png",
                  replace: bool = False) -> AssetEntry:
        """Register an image given as bytes; computes and stores its features."""
        if kind not in ASSET_KINDS:
            raise AssetError(f"kind must be one of {', '.join(ASSET_KINDS)}, not {kind!r}")
        if not _NAME.match(name):
            raise AssetError(f"asset name {name!r}: use lower-case letters, digits, '.', '_' and '-'")
        if len(data) > MAX_ASSET_BYTES:
            raise AssetError(f"asset file is over {MAX_ASSET_BYTES} bytes")
        entries = self._read_index()
        if any(e.name == name for e in entries) and not replace:
            raise AssetError(f"an asset named {name!r} is already registered (remove it first)")
        image = decode_image(data, max_pixels=DEFAULT_MAX_PIXELS)
        features = extract_features(image, name=name, kind=kind)
        self.root.mkdir(parents=True, exist_ok=True)
        file = f"{name}{suffix.lower()}"
        (self.root / file).write_bytes(data)
        (self.root / f"{name}.features.npz").write_bytes(features.to_npz())
        entry = AssetEntry(name=name, kind=kind, file=file, sha256=hashlib.sha256(data).hexdigest(),
                           width=image.width, height=image.height, added_at=utc_now_iso())
        self._write_index([e for e in entries if e.name != name] + [entry])
        return entry

    def add(self, path: Path, *, kind: str, name: str | None = None, replace: bool = False) -> AssetEntry:
        """Register the image file at ``path`` (name defaults to the file's stem)."""
        path = Path(path)
        if path.stat().st_size > MAX_ASSET_BYTES:
            raise AssetError(f"{path} is over {MAX_ASSET_BYTES} bytes")
        return self.add_bytes(path.read_bytes(), kind=kind, name=name or _slug(path.stem),
                              suffix=path.suffix or ".png", replace=replace)

    def add_image(self, image: Image.Image, *, kind: str, name: str, replace: bool = False) -> AssetEntry:
        buf = io.BytesIO()
        image.save(buf, "PNG")
        return self.add_bytes(buf.getvalue(), kind=kind, name=name, suffix=".png", replace=replace)

    def add_samples(self) -> list[AssetEntry]:
        """Register the demo's drawn assets (those not registered yet)."""
        from pipeline.images.sample_assets import sample_assets

        have = {e.name for e in self._read_index()}
        return [self.add_image(image, kind=kind, name=name) for name, kind, image in sample_assets()
                if name not in have]

    def remove(self, name: str) -> AssetEntry:
        entries = self._read_index()
        found = [e for e in entries if e.name == name]
        if not found:
            raise AssetError(f"no asset named {name!r}")
        self._write_index([e for e in entries if e.name != name])
        for file in (found[0].file, f"{name}.features.npz"):
            (self.root / file).unlink(missing_ok=True)
        return found[0]

    # ------------------------------------------------------------------------------------------ reads
    def features(self) -> list[AssetFeatures]:
        return [AssetFeatures.from_npz((self.root / f"{e.name}.features.npz").read_bytes(), name=e.name,
                                       kind=e.kind) for e in self.list()]

    def originals(self) -> list[tuple[str, str, Image.Image]]:
        """(name, kind, image) of every asset, decoded from the stored original."""
        return [(e.name, e.kind, decode_image((self.root / e.file).read_bytes())) for e in self.list()]

    def matcher(self, **options: float) -> ImageMatcher:
        """An :class:`ImageMatcher` over every registered asset (options: its keyword arguments)."""
        return ImageMatcher(self.features(), **options)
