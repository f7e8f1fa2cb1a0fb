"""Fetching media from posts without becoming a server-side request forgery tool.

``SafeMediaFetcher.fetch(url)``:

* only ``http`` and ``https``; no credentials in the URL;
* the host is resolved here, every address it resolves to is checked, and the connection goes to the checked
  address (the ``Host`` header and TLS server name stay the original host), so a DNS answer cannot change
  between check and use. Refused: private, loopback, link-local, multicast, reserved, unspecified, shared
  (CGNAT) and every other non-global address, and cloud-metadata names and addresses. The same check runs
  again on every redirect (redirects are followed here, at most ``max_redirects``);
* ``settings.allow_private_networks`` (off by default) lets private addresses through, never metadata ones;
  ``settings.private_allowlist`` lets exactly the listed ``ip:port`` pairs through;
* a byte cap (checked on ``Content-Length`` and while streaming), connect/read timeouts and a total deadline;
* the type is sniffed from the bytes (the declared ``Content-Type`` is ignored), then decoded with the
  decompression-bomb limit, first frame of animations, EXIF orientation applied (``decoding.decode_image``).

    fetcher = SafeMediaFetcher(settings.images)
    media = fetcher.fetch("https://example.org/picture.jpg")   # FetchedMedia, or raises MediaRefused/MediaFetchFailed
    fetcher.close()

Synchronous: run it in an executor from async code.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from PIL import Image

from pipeline.images.decoding import decode_image, sniff_image_type
from pipeline.images.errors import ForbiddenAddress, MediaFetchFailed, MediaRefused
from pipeline.settings import ImageSettings

ALLOWED_SCHEMES = ("http", "https")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
#: Names of cloud metadata services, refused whatever the settings.
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                            "instance-data.ec2.internal", "metadata.azure.internal"})
#: Cloud metadata addresses, refused whatever the settings.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.253", "100.100.100.200", "fd00:ec2::254", "168.63.129.16"))

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (getaddrinfo, TCP)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise MediaFetchFailed(f"cannot resolve {host!r}: {exc}") from exc
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class FetchedMedia:
    url: str
    final_url: str
    declared_type: str | None
    sniffed_type: str
    data: bytes
    image: Image.Image


def address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``ip`` may not be fetched from (None: it is a public address)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    for test, name in ((ip.is_loopback, "loopback"), (ip.is_link_local, "link-local"),
                       (ip.is_multicast, "multicast"), (ip.is_unspecified, "unspecified"),
                       (ip.is_reserved, "reserved"), (ip.is_private, "private")):
        if test:
            return name
    if not ip.is_global:
        return "not global"
    return None


class SafeMediaFetcher:
    """See the module docstring. ``transport`` and ``resolver`` are injectable for other network setups."""

    def __init__(self, settings: ImageSettings, *, transport: httpx.BaseTransport | None = None,
                 resolver: Resolver = system_resolver) -> None:
        self.settings = settings
        self._resolver = resolver
        self._allow = set(settings.private_allowlist)
        timeout = httpx.Timeout(connect=settings.connect_timeout_s, read=settings.read_timeout_s,
                                write=settings.read_timeout_s, pool=settings.connect_timeout_s)
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport,
                                    headers={"User-Agent": settings.user_agent, "Accept": "image/*",
                                             "Accept-Encoding": "identity"},
                                    trust_env=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SafeMediaFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------- checks
    def check_url(self, url: str) -> tuple[httpx.URL, str]:
        """Validate ``url`` and resolve its host: (the URL, the checked address to connect to)."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise MediaRefused(f"not a valid URL: {url!r}", reason="invalid_url") from exc
        if parsed.scheme not in ALLOWED_SCHEMES:
            raise MediaRefused(f"scheme {parsed.scheme!r} is not allowed (http, https only)", reason="scheme")
        if not parsed.host:
            raise MediaRefused(f"no host in {url!r}", reason="invalid_url")
        if parsed.userinfo:
            raise MediaRefused("credentials in the URL are not allowed", reason="invalid_url")
        host = parsed.host.lower().rstrip(".")
        if host in METADATA_HOSTS:
            raise ForbiddenAddress(f"{host} is a cloud metadata service", address=host)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in self._resolver(host, port)]
        if not addresses:
            raise MediaFetchFailed(f"{host} resolves to no address")
        for ip in addresses:  # every address must pass, or a second A record could be used to get in
            reason = address_refusal(ip)
            if reason is None:
                continue
            if reason == "cloud metadata":
                raise ForbiddenAddress(f"{host} resolves to {ip}, a cloud metadata address", address=str(ip))
            if f"{ip}:{port}" in self._allow or self.settings.allow_private_networks:
                continue
            raise ForbiddenAddress(f"{host} resolves to {ip} ({reason}); private networks are not allowed",
                                   address=str(ip))
        return parsed, str(addresses[0])

    # ------------------------------------------------------------------------------------------ fetch
    def fetch(self, url: str) -> FetchedMedia:
        """Download and decode the image at ``url`` (redirects followed and re-checked)."""
        deadline = time.monotonic() + self.settings.total_timeout_s
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            parsed, address = self.check_url(current)
            status, location, declared, data = self._get_pinned(parsed, address, deadline)
            if status in REDIRECT_STATUSES:
                if not location:
                    raise MediaFetchFailed(f"redirect without a Location from {current}", status=status)
                current = str(parsed.join(location))
                continue
            if status != 200:
                raise MediaFetchFailed(f"HTTP {status} from {current}", status=status)
            sniffed = sniff_image_type(data)
            if sniffed is None:
                raise MediaRefused(f"{current} is not an image (declared {declared!r})", reason="not_an_image")
            image = decode_image(data, max_pixels=self.settings.max_pixels)
            return FetchedMedia(url=url, final_url=current, declared_type=declared, sniffed_type=sniffed,
                                data=data, image=image)
        raise MediaRefused(f"more than {self.settings.max_redirects} redirects from {url}",
                           reason="too_many_redirects")

    def _get_pinned(self, parsed: httpx.URL, address: str, deadline: float
                    ) -> tuple[int, str | None, str | None, bytes]:
        """One GET to the checked ``address`` with the original Host header and TLS server name."""
        host_header = parsed.netloc.decode("ascii")
        extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
        target = parsed.copy_with(host=address)
        request = self._client.build_request("GET", target, headers={"Host": host_header},
                                             extensions=extensions)
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise MediaFetchFailed(f"fetching {parsed} failed: {exc}") from exc
        try:
            if response.status_code in REDIRECT_STATUSES:
                return response.status_code, response.headers.get("location"), None, b""
            if response.status_code != 200:
                return response.status_code, None, None, b""
            length = response.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self.settings.max_bytes:
                raise MediaRefused(f"{parsed} declares {length} bytes, over {self.settings.max_bytes}",
                                   reason="too_large")
            chunks, total = [], 0
            for chunk in response.iter_raw():  # raw: no transparent gzip inflating past the cap
                total += len(chunk)
                if total > self.settings.max_bytes:
                    raise MediaRefused(f"{parsed} sent more than {self.settings.max_bytes} bytes",
                                       reason="too_large")
                if time.monotonic() > deadline:
                    raise MediaRefused(f"{parsed} took longer than {self.settings.total_timeout_s}s",
                                       reason="timeout")
                chunks.append(chunk)
            return 200, None, response.headers.get("content-type"), b"".join(chunks)
        except httpx.HTTPError as exc:
            raise MediaFetchFailed(f"reading {parsed} failed: {exc}") from exc
        finally:
            response.close()
