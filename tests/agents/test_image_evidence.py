"""Image evidence in the pipeline: a post whose picture carries the IMS logo gets ``logo_misuse`` from the image
alone, and the evidence (asset, score, box, stored thumbnail) reaches the flagged item in Elasticsearch."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from PIL import Image

from infra.topics import ensure_topics
from pipeline.demo import start_worker, stop_worker
from pipeline.images.assets import AssetRegistry
from pipeline.images.sample_assets import draw_ims_logo, draw_scene
from pipeline.search.flagged_item_store import ensure_flagged_index
from pipeline.settings import Settings
from tests.agents.test_pipeline_agents import produce
from tests.conftest import derive_settings
from tests.factories import raw_mention
from tests.kafka_reader import read_until

pytestmark = pytest.mark.integration


def _jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture(scope="module")
def picture_server() -> Iterator[str]:
    post = draw_scene(41, (1024, 768))
    post.paste(draw_ims_logo().resize((300, 125)), (520, 90))
    routes = {"/profile.jpg": _jpeg(post), "/holiday.jpg": _jpeg(draw_scene(77, (1024, 768)))}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = routes.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def image_settings(settings: Settings, es_client: Elasticsearch, picture_server: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    assets_dir = tmp_path_factory.mktemp("assets")
    AssetRegistry(assets_dir).add_samples()
    ours = derive_settings(settings, "images")
    host_port = picture_server.removeprefix("http://")
    ours = ours.model_copy(update={"images": ours.images.model_copy(
        update={"assets_dir": assets_dir, "private_allowlist": [host_port]})})
    ensure_topics(ours.kafka.bootstrap_servers, ours.kafka.topics.all(), partitions=1, replication_factor=1)
    ensure_flagged_index(es_client, ours.elasticsearch.flagged_index)
    worker = start_worker(ours, log_file=Path(tmp_path_factory.mktemp("worker")) / "worker.log")
    yield ours
    stop_worker(worker)


def test_logo_in_a_posted_picture_flags_the_mention(image_settings: Settings, picture_server: str,
                                                    es_client: Elasticsearch) -> None:
    logo_post = raw_mention("new profile pic, what do you reckon", author={"handle": "@sam", "is_employee": True},
                            media_urls=[f"{picture_server}/profile.jpg"])
    holiday = raw_mention("back from hols, what a view", media_urls=[f"{picture_server}/holiday.jpg"])
    logo_id, holiday_id = produce(image_settings, [logo_post, holiday])

    found = read_until(image_settings.kafka.bootstrap_servers, [image_settings.kafka.topics.classified],
                       {logo_id, holiday_id}, timeout_s=120)
    logo_result = found[logo_id][0].json()
    assert "logo_misuse" in logo_result["labels"] and logo_result["flagged"]
    [entry] = logo_result["image_evidence"]
    assert entry["matches"][0]["kind"] == "logo" and entry["matches"][0]["box"] is not None
    assert any("image matches logo" in why for why in logo_result["explanations"]["logo_misuse"])
    holiday_result = found[holiday_id][0].json()
    assert "logo_misuse" not in holiday_result["labels"] and not holiday_result["flagged"]

    index = image_settings.elasticsearch.flagged_index
    deadline = time.monotonic() + 60
    while not es_client.exists(index=index, id=logo_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    doc = es_client.get(index=index, id=logo_id)["_source"]
    assert doc["image_evidence"][0]["thumbnail"].startswith("data:image/jpeg;base64,")
    assert doc["image_evidence"][0]["matches"][0]["asset"] == entry["matches"][0]["asset"]
