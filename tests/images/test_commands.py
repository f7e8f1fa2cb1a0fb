"""``ims-monitor assets ...``, ``images match`` and ``bench images`` through the real command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.images.benchmark import background, negative, transparent_logo


@pytest.fixture()
def run(tmp_path):
    runner = CliRunner()
    env = {"IMS_IMAGES__ASSETS_DIR": str(tmp_path / "assets")}

    def invoke(*args: str):
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def test_assets_and_images_match(run, tmp_path, sample_originals):
    result = run("assets", "add-samples")
    assert result.exit_code == 0, result.output
    names = [json.loads(line)["name"] for line in run("assets", "list").output.splitlines()]
    assert names == sorted(n for n, _k, _i in sample_originals)

    logo_file = tmp_path / "my-logo.png"
    sample_originals[0][2].save(logo_file)
    result = run("assets", "add", str(logo_file), "--kind", "logo")
    assert result.exit_code == 0 and json.loads(result.output)["name"] == "my-logo"
    assert run("assets", "add", str(logo_file), "--kind", "logo").exit_code == 1  # duplicate name
    assert run("assets", "add", str(logo_file), "--kind", "banner").exit_code != 0
    assert json.loads(run("assets", "remove", "my-logo").output)["name"] == "my-logo"
    assert run("assets", "remove", "my-logo").exit_code == 1
    assert not (tmp_path / "assets" / "my-logo.png").exists()

    rng = np.random.default_rng(77)
    positive, other = tmp_path / "post.jpg", tmp_path / "other.jpg"
    canvas = background(rng)
    logo = transparent_logo(sample_originals[0][2]).resize((260, 108)).rotate(20, expand=True)
    canvas.paste(logo, (300, 200), mask=logo.getchannel("A"))
    canvas.save(positive, quality=85)
    negative("other_logo", rng).save(other)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    result = run("images", "match", str(positive), str(other), str(junk))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["path"] for line in lines] == [str(positive), str(other), str(junk)]
    assert lines[0]["logo_misuse"] is True
    match = lines[0]["matches"][0]
    assert match["asset"] == "ims-logo" and match["kind"] == "logo"
    assert isinstance(match["score"], float) and len(match["box"]) == 4
    assert lines[1] == {"path": str(other), "logo_misuse": False, "matches": []}
    assert lines[2]["logo_misuse"] is False and "error" in lines[2]


def test_images_match_needs_assets(run, tmp_path, sample_originals):
    image = tmp_path / "a.png"
    sample_originals[1][2].save(image)
    assert run("images", "match", str(image)).exit_code == 1


def test_bench_images_small(run):
    result = run("bench", "images", "--count", "20", "--seed", "3")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["images"] == 20 and report["positives"] == 12 and report["negatives"] == 8
    assert 0.0 <= report["recall"] <= 1.0 and report["ms_per_image"] > 0
