"""The image stage's commands.

    ims-monitor assets add FILE --kind logo|photo|artwork [--name NAME] [--replace]
    ims-monitor assets add-samples            register the demo's drawn IMS logo, intranet photos, artwork
    ims-monitor assets list                   one JSON line per asset
    ims-monitor assets remove NAME
    ims-monitor images match FILE...          one JSON line per file: path, logo_misuse, matches
    ims-monitor bench images [--count 540]    precision, recall, ms/image on a labelled set built from the registry

The registry lives in ``IMS_IMAGES__ASSETS_DIR`` (default ``<infra home>/assets``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from pipeline.classifier.commands import bench
from pipeline.settings import Settings


def matcher_options(settings: Settings) -> dict:
    """The matcher's thresholds from the settings (``IMS_IMAGES__MIN_INLIERS`` etc.)."""
    images = settings.images
    return {"min_inliers": images.min_inliers, "pdq_max_distance": images.pdq_max_distance,
            "min_coverage": images.min_coverage}


def _registry(settings: Settings):  # -> AssetRegistry (imported lazily: OpenCV is heavy)
    from pipeline.images.assets import AssetRegistry

    return AssetRegistry(settings.images.assets_dir)


@click.group()
def assets() -> None:
    """The registry of IMS's own images (logo, photos from IMS sites, company artwork) that posts must not use."""


@assets.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["logo", "photo", "artwork"]), required=True)
@click.option("--name", default=None, help="Asset name (default: the file name's stem).")
@click.option("--replace", is_flag=True, help="Replace an asset of the same name.")
@click.pass_obj
def assets_add(settings: Settings, file: Path, kind: str, name: str | None, replace: bool) -> None:
    """Register FILE: store it and its matching features (keypoints, PDQ hash)."""
    from pipeline.images.errors import ImageError

    try:
        entry = _registry(settings).add(file, kind=kind, name=name, replace=replace)
    except ImageError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(asdict(entry)))


@assets.command("add-samples")
@click.pass_obj
def assets_add_samples(settings: Settings) -> None:
    """Register the demo's sample IMS logo, intranet photos and artwork (drawn by code; skips existing)."""
    for entry in _registry(settings).add_samples():
        click.echo(json.dumps(asdict(entry)))


@assets.command("list")
@click.pass_obj
def assets_list(settings: Settings) -> None:
    """One JSON line per registered asset."""
    for entry in _registry(settings).list():
        click.echo(json.dumps(asdict(entry)))


@assets.command("remove")
@click.argument("name")
@click.pass_obj
def assets_remove(settings: Settings, name: str) -> None:
    """Unregister the asset NAME and delete its stored files."""
    from pipeline.images.errors import ImageError

    try:
        entry = _registry(settings).remove(name)
    except ImageError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(asdict(entry)))


@click.group()
def images() -> None:
    """Find IMS's logo, photos and artwork in images."""


@images.command("match")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def images_match(settings: Settings, files: tuple[Path, ...]) -> None:
    """Print one JSON line per FILE: {"path", "logo_misuse", "matches": [{"asset", "kind", "score", "box"}]}.

    A file that is not a readable image gets "logo_misuse": false, no matches and an "error".
    """
    from pipeline.images.decoding import decode_image
    from pipeline.images.errors import ImageError

    registry = _registry(settings)
    if not registry.list():
        click.echo("error: no assets registered; `ims-monitor assets add FILE --kind logo` or "
                   "`ims-monitor assets add-samples`", err=True)
        sys.exit(1)
    matcher = registry.matcher(**matcher_options(settings))
    for path in files:
        line: dict = {"path": str(path), "logo_misuse": False, "matches": []}
        try:
            if path.stat().st_size > settings.images.max_bytes:
                raise ImageError(f"over {settings.images.max_bytes} bytes")
            image = decode_image(path.read_bytes(), max_pixels=settings.images.max_pixels)
            found = matcher.match(image)
            line["matches"] = [{"asset": m.asset, "kind": m.kind, "score": round(m.score, 4),
                                "box": list(m.box) if m.box is not None else None} for m in found]
            line["logo_misuse"] = bool(found)
        except ImageError as exc:
            line["error"] = str(exc)
        click.echo(json.dumps(line))


@bench.command("images")
@click.option("--count", default=540, show_default=True, help="Labelled images to build (>= 500 for the report).")
@click.option("--seed", default=7, show_default=True)
@click.pass_obj
def bench_images(settings: Settings, count: int, seed: int) -> None:
    """Precision, recall and ms/image (one core) of image matching on a labelled set built from the registry:
    positives under every transformation, hard negatives (other logos, "IMS" in other designs, unrelated
    photos). Uses the sample assets when the registry is empty."""
    from pipeline.images.benchmark import build_benchmark, run_image_bench
    from pipeline.images.matching import ImageMatcher, extract_features
    from pipeline.images.sample_assets import sample_assets

    registry = _registry(settings)
    if registry.list():
        originals = registry.originals()
        matcher = registry.matcher(**matcher_options(settings))
    else:
        click.echo("the registry is empty: benchmarking the sample assets", err=True)
        originals = sample_assets()
        matcher = ImageMatcher([extract_features(img, name=n, kind=k) for n, k, img in originals],
                               **matcher_options(settings))
    echo = lambda message: click.echo(message, err=True)  # noqa: E731
    labelled = build_benchmark(originals, count=count, seed=seed, progress=echo)
    report = run_image_bench(matcher, labelled, progress=echo)
    report["assets"] = [name for name, _kind, _img in originals]
    click.echo(json.dumps(report, indent=2))
