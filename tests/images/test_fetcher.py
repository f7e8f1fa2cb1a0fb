"""The media fetcher against a real HTTP server on 127.0.0.1 (allow-listed by its exact port only)."""

from __future__ import annotations

import pytest

from pipeline.images.errors import ForbiddenAddress, MediaFetchFailed, MediaRefused
from pipeline.images.fetcher import SafeMediaFetcher
from pipeline.settings import ImageSettings


@pytest.fixture()
def fetcher(media_server):
    settings = ImageSettings(private_allowlist=[f"127.0.0.1:{media_server.port}"], max_bytes=200_000,
                             read_timeout_s=0.5, connect_timeout_s=1.0)
    with SafeMediaFetcher(settings) as f:
        yield f


def test_fetches_an_allowed_image(fetcher, media_server, sample_originals):
    media = fetcher.fetch(f"{media_server.base}/logo.png")
    assert media.sniffed_type == "png"
    assert media.image.size == sample_originals[0][2].size


def test_sniffs_content_not_declared_type(fetcher, media_server):
    assert fetcher.fetch(f"{media_server.base}/logo-as-text").sniffed_type == "png"
    with pytest.raises(MediaRefused) as info:
        fetcher.fetch(f"{media_server.base}/not-an-image.png")
    assert info.value.reason == "not_an_image"


def test_connects_to_the_checked_address_with_the_original_host(media_server):
    settings = ImageSettings(allow_private_networks=True)
    with SafeMediaFetcher(settings) as f:
        f.fetch(f"http://localhost:{media_server.port}/logo.png")
    assert media_server.hosts[-1] == f"localhost:{media_server.port}"


def test_loopback_refused_by_default(media_server):
    with SafeMediaFetcher(ImageSettings()) as f, pytest.raises(ForbiddenAddress):
        f.fetch(f"{media_server.base}/logo.png")


def test_hostname_resolving_to_loopback_refused(media_server):
    with SafeMediaFetcher(ImageSettings()) as f, pytest.raises(ForbiddenAddress) as info:
        f.fetch(f"http://localhost:{media_server.port}/logo.png")
    assert info.value.address in ("127.0.0.1", "::1")


@pytest.mark.parametrize("host", [
    "10.1.2.3", "172.16.0.9", "192.168.1.1", "127.0.0.2", "169.254.169.254", "169.254.1.1", "224.0.0.1",
    "0.0.0.0", "240.0.0.1", "100.64.0.1", "255.255.255.255", "[::1]", "[fe80::1]", "[fc00::1]",
    "[fd00:ec2::254]", "[::ffff:127.0.0.1]", "[ff02::1]", "[::]", "metadata.google.internal",
])
def test_forbidden_addresses_refused_before_connecting(fetcher, host):
    with pytest.raises(ForbiddenAddress):
        fetcher.fetch(f"http://{host}/latest/meta-data")


def test_private_networks_setting_never_opens_metadata(media_server):
    with SafeMediaFetcher(ImageSettings(allow_private_networks=True)) as f:
        assert f.fetch(f"{media_server.base}/logo.png").sniffed_type == "png"
        for url in ("http://169.254.169.254/latest/meta-data", "http://metadata.google.internal/"):
            with pytest.raises(ForbiddenAddress):
                f.fetch(url)


@pytest.mark.parametrize("url", ["ftp://example.org/a.png", "file:///etc/passwd", "gopher://example.org/",
                                 "http://user:pw@example.org/a.png", "not a url"])
def test_other_schemes_and_credentials_refused(fetcher, url):
    with pytest.raises(MediaRefused):
        fetcher.fetch(url)


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data", "http://10.0.0.1/x.png",
                                    "http://127.0.0.1:1/x.png", "http://[::1]:{port}/logo.png",
                                    "file:///etc/passwd"])
def test_redirect_to_forbidden_target_refused(fetcher, media_server, target):
    target = target.format(port=media_server.port)
    with pytest.raises(MediaRefused):
        fetcher.fetch(f"{media_server.base}/redirect?to={target}")


def test_allowed_redirect_followed(fetcher, media_server):
    media = fetcher.fetch(f"{media_server.base}/redirect?to=/logo.png")
    assert media.final_url.endswith("/logo.png")


def test_redirect_loop_refused(fetcher, media_server):
    with pytest.raises(MediaRefused) as info:
        fetcher.fetch(f"{media_server.base}/loop")
    assert info.value.reason == "too_many_redirects"


@pytest.mark.parametrize("path", ["/declared-big.png", "/stream-big"])
def test_oversize_refused(fetcher, media_server, path):
    with pytest.raises(MediaRefused) as info:
        fetcher.fetch(f"{media_server.base}{path}")
    assert info.value.reason == "too_large"


def test_decompression_bomb_refused(fetcher, media_server):
    with pytest.raises(MediaRefused) as info:
        fetcher.fetch(f"{media_server.base}/bomb.png")
    assert info.value.reason == "decompression_bomb"


def test_animation_gives_first_frame(fetcher, media_server):
    image = fetcher.fetch(f"{media_server.base}/animated.gif").image
    assert image.convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_exif_orientation_applied(fetcher, media_server):
    image = fetcher.fetch(f"{media_server.base}/rotated.jpg").image
    assert image.size == (100, 200)
    # Rotated 90° clockwise: the black left half is now the top half.
    assert sum(image.getpixel((50, 50))) < 60
    assert sum(image.getpixel((50, 150))) > 700


def test_http_errors_and_timeouts(fetcher, media_server):
    with pytest.raises(MediaFetchFailed) as info:
        fetcher.fetch(f"{media_server.base}/missing.png")
    assert info.value.status == 404
    with pytest.raises(MediaFetchFailed):
        fetcher.fetch(f"{media_server.base}/slow")
