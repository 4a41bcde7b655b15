"""Outgoing webhook requests, guarded against server-side request forgery.

A subscription's URL is typed by staff (or a token holder), so a request to it must not reach
what only this server can: its loopback, the private network, the cloud's metadata address
(169.254.169.254). :func:`post` therefore

- resolves the host itself and refuses when any address it gets is not a public unicast one
  (private, loopback, link-local, shared, multicast, reserved, unspecified; IPv6 too, and IPv4
  carried inside IPv6: mapped, 6to4, Teredo, NAT64), unless ``TGC_WEBHOOK_ALLOW_PRIVATE``;
- connects to an address it checked, the next while a connection cannot be made (the URL's host
  is kept for ``Host`` and TLS, so a second DNS answer cannot swap the address between the check
  and the connection);
- follows no redirect (a 3xx is an answer like any other: not delivered), ignores proxy settings
  of the environment, stops after ``TGC_WEBHOOK_TIMEOUT`` seconds to connect and between reads,
  and reads at most :data:`MAX_RESPONSE_BYTES` of the answer.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass

import httpx

from tgcampaigns import conf

# Of an answer: what is read at most (the rest is not waited for) and what the log keeps.
MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_BYTES = 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(Exception):
    """The URL may not be requested (its scheme, or an address that is not public); the message
    says why, for the delivery log."""


class EgressFailed(Exception):
    """The request did not get an answer (refused connection, TLS error, timeout); the message
    says what happened, for the delivery log."""


@dataclass(frozen=True)
class Answer:
    """The receiver's answer: HTTP status, the first :data:`MAX_RESPONSE_BYTES` of its body."""

    status_code: int
    body: bytes

    @property
    def excerpt(self) -> str:
        """The first KB of the body as text (undecodable bytes replaced), for the log."""
        return self.body[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress) -> str:
    """Why ``ip`` may not be requested, or "" when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        reason = refusal(inner)
        return f"{reason} (inside the IPv6 address {ip})" if reason else ""
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    )
    for hit, what in checks:
        if hit:
            return f"{ip} is {what}"
    return ""


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to (an address literal is itself), each checked unless
    ``TGC_WEBHOOK_ALLOW_PRIVATE``. Raises :class:`EgressRefused` when one is not public, and
    :class:`EgressFailed` when the name does not resolve."""
    try:
        found = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise EgressFailed(f"{host} does not resolve: {exc}") from exc
        found = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not conf.webhook_allow_private():
        for ip in found:
            if reason := refusal(ip):
                raise EgressRefused(
                    f"refused: {host} resolves to {reason} (TGC_WEBHOOK_ALLOW_PRIVATE is off)"
                )
    if not found:
        raise EgressFailed(f"{host} has no address")
    return found


def _pinned(url: httpx.URL, ip: IPAddress) -> tuple[httpx.URL, dict[str, str], dict]:
    """The URL with its host replaced by ``ip``, the ``Host`` header and the TLS name to keep."""
    host = url.host
    host_header = (f"[{host}]" if ":" in host else host) + (f":{url.port}" if url.port else "")
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    return url.copy_with(host=str(ip)), {"Host": host_header}, extensions


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body`` to ``url`` with ``headers`` through the guard (module docstring) and return
    the answer, whatever its status. The host's addresses are tried in turn while a connection
    cannot be made (nothing was sent). Raises :class:`EgressRefused` (nothing was sent) or
    :class:`EgressFailed` (no answer: it may or may not have arrived)."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise EgressRefused(f"refused: only http:// and https:// addresses are requested, not {url[:100]!r}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    timeout = conf.webhook_timeout()
    addresses = resolve(parsed.host, port)
    for n, ip in enumerate(addresses, start=1):
        try:
            return _post_to(parsed, ip, body, headers, timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if n == len(addresses):
                raise EgressFailed(f"cannot connect to {ip}: {type(exc).__name__}: {exc}"[:500]) from exc
        except httpx.TimeoutException as exc:
            raise EgressFailed(f"timed out after {timeout:g} s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise EgressFailed(f"{type(exc).__name__}: {exc}"[:500]) from exc
    raise EgressFailed(f"{parsed.host} has no address")  # resolve() never returns none


def _post_to(url: httpx.URL, ip: IPAddress, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    target, host_header, extensions = _pinned(url, ip)
    deadline = time.monotonic() + 3 * timeout
    with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False) as client:
        request = client.build_request(
            "POST",
            target,
            content=body,
            # identity: a compressed answer could expand past the cap inside one chunk.
            headers={**headers, **host_header, "Accept-Encoding": "identity"},
            extensions=extensions,
        )
        response = client.send(request, stream=True)
        try:
            return Answer(response.status_code, _read_capped(response, deadline))
        finally:
            response.close()


def _read_capped(response: httpx.Response, deadline: float) -> bytes:
    """At most :data:`MAX_RESPONSE_BYTES` of the body, and nothing after ``deadline`` (a receiver
    that drips bytes under the read timeout does not hold the worker)."""
    body = bytearray()
    for chunk in response.iter_raw():
        body += chunk
        if len(body) >= MAX_RESPONSE_BYTES or time.monotonic() > deadline:
            break
    return bytes(body[:MAX_RESPONSE_BYTES])
