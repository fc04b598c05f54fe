"""The teacher's pages: the join page for the projector and the lesson-link builder.

``GET /join?<playground query>`` shows, large, the address students open (the laptop's LAN
address and port) with a QR code drawn here by segno (nothing comes from the internet), for the
given configuration. The address is, in order of preference: ``?host=`` on the join page, the
``PUBLIC_URL`` setting, the machine's LAN address (found by "connecting" a UDP socket, which sends
nothing) with the port the server listens on, and only then the request's Host header: any client
can write any Host header, so it never outranks what the teacher configured or the machine says.
``?host=`` and the Host header must be a plain host[:port]: an IPv4 address, a bracketed IPv6
address without a zone, or a DNS name.

``GET /lesson?query=<playground query>&lesson_hide=lr&lesson_hide_text=1`` answers 303 with the
lesson link: the same configuration with those controls (and the text) hidden. The lesson panel
on the page sends it from a form of its own, so ticking its boxes never changes the playground.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from urllib.parse import parse_qsl, urlsplit

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.config import HIDEABLE, page_url, parse_query
from app.i18n import LANGUAGES, choose_language, describe_error, translator
from app.routes.pages import templates

router = APIRouter(include_in_schema=False)
JOIN_PAGE_KEYS = ("lang", "host")
PROBE_ADDRESS = ("10.255.255.255", 1)  # private, never contacted: connect() on UDP sends nothing
QR_SCALE = 10
# A DNS name: dot-separated labels of letters, digits and inner hyphens, the last not all digits.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$)(?:{_LABEL}\.)*(?!\d+$){_LABEL}$")


# -- addresses ------------------------------------------------------------------------------------


def lan_address() -> str | None:
    """This machine's address on the local network (the interface of its default route), or None."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(PROBE_ADDRESS)
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if _is_loopback(address) else address


def in_container() -> bool:
    """Inside Docker or Podman the detected address is the container's own, not the laptop's."""
    return os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _split_host(value: str, default_scheme: str) -> tuple[str, str, int | None] | None:
    """``"192.168.1.20:8000"`` or ``"http://name.local:8000/"`` -> (scheme, host, port), or None
    if it is not a plain address (paths, users and odd characters are refused)."""
    value = value.strip()
    if "://" not in value:
        value = f"{default_scheme}://{value}"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if (parts.scheme not in ("http", "https") or parts.path not in ("", "/") or parts.query or parts.fragment
            or parts.username is not None or parts.password is not None):
        return None
    bracketed = parts.netloc.rpartition("@")[2].startswith("[")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return (parts.scheme, host, port) if _HOSTNAME.match(host) and not bracketed else None
    if bracketed != (address.version == 6) or "%" in host:  # "%": an IPv6 zone, local to one machine
        return None
    return parts.scheme, host, port


def _base(scheme: str, host: str, port: int | None) -> str:
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" if port in (None, default_port) else f"{scheme}://{host}:{port}"


def public_base(request: Request, override: str | None) -> tuple[str, str]:
    """The base address students open, and where it came from: 'override', 'setting', 'lan',
    'host' or 'fallback'. A bad ``override`` is ignored (the caller reports it)."""
    scheme = request.url.scheme if request.url.scheme in ("http", "https") else "http"
    if override:
        parts = _split_host(override, scheme)
        if parts:
            return _base(*parts), "override"
    configured = request.app.state.settings.public_url
    if configured:
        return configured.rstrip("/"), "setting"
    port = request.app.state.settings.port
    lan = lan_address()
    if lan:
        return _base(scheme, lan, port), "lan"
    header = _split_host(request.headers.get("host", ""), scheme)
    if header:
        return _base(*header), "host"
    return _base(scheme, "127.0.0.1", port), "fallback"


def qr_svg(text: str) -> str:
    """A QR code as inline SVG (sized by CSS), made here: no internet needed."""
    return segno.make(text, error="m", micro=False).svg_inline(scale=QR_SCALE, border=2, omitsize=True)


# -- the join page ------------------------------------------------------------------------------


@router.get("/join", response_class=HTMLResponse)
def join(request: Request) -> HTMLResponse:
    """The address (and QR code) students open, for the projector."""
    params = request.query_params
    requested_lang = params.get("lang")
    lang = choose_language(requested_lang, request.headers.get("accept-language"))
    t = translator(lang)
    config, errors = parse_query(list(params.multi_items()), ignore=JOIN_PAGE_KEYS)
    notes = [describe_error(t, e, lang) for e in errors]
    override = params.get("host")
    if override and _split_host(override, "http") is None:
        notes.append(t("join.bad_host", host=override))
    base, source = public_base(request, override)
    # The students' link names a language only if the teacher chose one: else each browser's own.
    link = base + page_url(config, lang if requested_lang in dict(LANGUAGES) else None, short=True)
    keep = (("host", override),) if override else ()
    context = {
        "t": t,
        "lang": lang,
        "languages": [(code, name, page_url(config, code, "/join", short=True, extra=keep)) for code, name in LANGUAGES],
        "address": base,
        "link": link,
        "has_setup": bool(config.to_query(short=True)),
        "qr": qr_svg(link),
        "source": source,
        "container": source == "lan" and in_container(),
        "port": urlsplit(base).port or request.app.state.settings.port,
        "notes": notes,
        "playground": page_url(config, lang),
    }
    return templates.TemplateResponse(request, "join.html", context)


# -- lesson links ---------------------------------------------------------------------------------


@router.get("/lesson")
def lesson(request: Request) -> RedirectResponse:
    """303 to the lesson link: the given configuration with the chosen controls hidden (or to its
    join page with ``to=join``)."""
    params = request.query_params
    lang = choose_language(params.get("lang"), request.headers.get("accept-language"))
    config, _ = parse_query(parse_qsl(params.get("query", ""), keep_blank_values=True), ignore=("lang",))
    chosen = set(params.getlist("lesson_hide"))
    hide_text = params.get("lesson_hide_text", "").strip().lower() in ("1", "on", "true", "yes")
    config = config.with_changes(hide=tuple(n for n in HIDEABLE if n in chosen), hide_text=hide_text)
    target = page_url(config, lang, "/join", short=True) if params.get("to") == "join" else page_url(config, lang)
    return RedirectResponse(target, status_code=303)

