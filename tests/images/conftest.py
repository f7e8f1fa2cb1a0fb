"""Fixtures of the image tests: the sample assets' features (computed once) and a local HTTP server on
127.0.0.1 that serves images, non-images, bombs and redirects for the media fetcher."""

from __future__ import annotations

import io
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image

from pipeline.images.matching import ImageMatcher, extract_features
from pipeline.images.sample_assets import sample_assets


@pytest.fixture(scope="session")
def sample_originals():
    return sample_assets()


@pytest.fixture(scope="session")
def sample_matcher(sample_originals) -> ImageMatcher:
    return ImageMatcher([extract_features(img, name=n, kind=k) for n, k, img in sample_originals])


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (the shape of a decompression bomb)."""
    data = bytearray(png_bytes(Image.new("L", (1, 1))))
    ihdr = 8 + 8  # signature, then length + b"IHDR"
    data[ihdr:ihdr + 4] = width.to_bytes(4, "big")
    data[ihdr + 4:ihdr + 8] = height.to_bytes(4, "big")
    crc = zlib.crc32(bytes(data[12:ihdr + 13]))
    data[ihdr + 13:ihdr + 17] = crc.to_bytes(4, "big")
    return bytes(data)


def animated_gif() -> bytes:
    """Two frames: red, then blue."""
    buf = io.BytesIO()
    frames = [Image.new("RGB", (40, 30), (255, 0, 0)), Image.new("RGB", (40, 30), (0, 0, 255))]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def exif_rotated_jpeg() -> bytes:
    """A 200x100 JPEG, left half black, right half white, with EXIF orientation 6 (display rotated 90° CW)."""
    image = Image.new("RGB", (200, 100), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 100, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    return buf.getvalue()


class MediaServer:
    """What the handler serves; ``hosts`` records the Host header of every request."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hosts: list[str] = []
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(state: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802
            state.hosts.append(self.headers.get("Host", ""))
            url = urlparse(self.path)
            if url.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", parse_qs(url.query)["to"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if url.path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if url.path == "/stream-big":  # no Content-Length: the cap must hold while streaming
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(png_bytes(Image.new("RGB", (4, 4)))[:16])
                for _ in range(64):
                    self.wfile.write(b"\0" * 16_384)
                self.close_connection = True
                return
            if url.path == "/slow":
                time.sleep(2.0)
            status, headers, body = state.routes.get(url.path, (404, {"Content-Type": "text/plain"}, b"no"))
            self.send_response(status)
            for key, value in headers.items():
                if key != "Content-Length":
                    self.send_header(key, value)
            self.send_header("Content-Length", headers.get("Content-Length", str(len(body))))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


@pytest.fixture(scope="session")
def media_server(sample_originals) -> Iterator[MediaServer]:
    state = MediaServer()
    logo = sample_originals[0][2]
    post = sample_originals[2][2].convert("RGB").resize((1024, 768))
    small_logo = logo.resize((300, 125))
    post.paste(small_logo, (500, 80))
    buf = io.BytesIO()
    post.save(buf, "JPEG", quality=85)
    state.routes = {
        "/post.jpg": (200, {"Content-Type": "image/jpeg"}, buf.getvalue()),
        "/logo.png": (200, {"Content-Type": "image/png"}, png_bytes(logo)),
        "/logo-as-text": (200, {"Content-Type": "text/plain"}, png_bytes(logo)),
        "/not-an-image.png": (200, {"Content-Type": "image/png"}, b"<html><body>hello</body></html>" * 10),
        "/bomb.png": (200, {"Content-Type": "image/png"}, bomb_png()),
        "/animated.gif": (200, {"Content-Type": "image/gif"}, animated_gif()),
        "/rotated.jpg": (200, {"Content-Type": "image/jpeg"}, exif_rotated_jpeg()),
        "/declared-big.png": (200, {"Content-Type": "image/png", "Content-Length": str(10**9)}, b""),
        "/slow": (200, {"Content-Type": "image/png"}, png_bytes(logo)),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
