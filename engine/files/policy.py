"""Upload rules: who may upload (Parse's `fileUpload` options), which names, extensions and content types, and
how a download is presented (`Content-Disposition`, the served type).

Active content (HTML, SVG, XML, JavaScript, ...) is refused by default (130): served from the API's origin it
would run with the app's cookies and storage. Names follow Parse's FilesController pattern, which leaves no room
for path traversal or header injection."""

from __future__ import annotations

import mimetypes
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import ErrorCode, ParseError

MAX_NAME = 128
# Parse Server's FilesController.validateFilename pattern.
_NAME_RE = re.compile(r"^[_a-zA-Z0-9][a-zA-Z0-9@. ~_-]*$")
_STORED_RE = re.compile(r"^[0-9a-f]{32}_[_a-zA-Z0-9][a-zA-Z0-9@. ~_-]*$")
_TYPE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,127}$")

ACTIVE_EXTENSIONS = frozenset({
    "htm", "html", "xhtml", "shtml", "xht", "mht", "mhtml", "svg", "svgz", "xml", "xsl", "xslt", "xsd", "rss",
    "atom", "js", "mjs", "cjs", "jsx", "ts", "vbs", "swf", "php", "phtml", "jsp", "asp", "aspx", "hta", "wasm",
    "appcache", "manifest", "xbl", "xul", "css",
})
ACTIVE_TYPES = frozenset({
    "text/html", "application/xhtml+xml", "image/svg+xml", "application/xml", "text/xml", "application/javascript",
    "text/javascript", "application/ecmascript", "text/ecmascript", "application/x-javascript",
    "application/x-shockwave-flash", "text/xsl", "application/xslt+xml", "text/css", "application/wasm",
    "multipart/x-mixed-replace", "text/vtt", "application/x-httpd-php",
})
# Shown inline; everything else is served as an attachment.
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp",
                          "image/avif", "image/tiff"})
DEFAULT_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class UploadRules:
    enable_for_public: bool = False
    enable_for_anonymous_user: bool = False
    enable_for_authenticated_user: bool = True
    file_extensions: Sequence[str] = ()  # regexes an extension must match (Parse's fileExtensions); empty = any
    allow_active_content: bool = False
    max_bytes: int = 2 * 1024**3


def check_uploader(rules: UploadRules, *, master: bool, user_id: str | None, anonymous: bool) -> None:
    """Parse's FilesRouter checks, in its order and with its messages."""
    if master:
        return
    if user_id and anonymous and not rules.enable_for_anonymous_user:
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, "File upload by anonymous user is disabled.")
    if user_id and not anonymous and not rules.enable_for_authenticated_user:
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, "File upload by authenticated user is disabled.")
    if not user_id and not rules.enable_for_public:
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, "File upload by public is disabled.")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ParseError(ErrorCode.INVALID_FILE_NAME, "Filename not provided.")
    if len(name) > MAX_NAME:
        raise ParseError(ErrorCode.INVALID_FILE_NAME, "Filename too long.")
    if not _NAME_RE.match(name) or ".." in name:
        raise ParseError(ErrorCode.INVALID_FILE_NAME, "Filename contains invalid characters.")
    return name


def is_stored_name(name: str) -> bool:
    return len(name) <= MAX_NAME + 33 and bool(_STORED_RE.match(name)) and ".." not in name


def stored_name(name: str) -> str:
    """Parse's `<32 hex>_<name>`: unguessable, and two uploads of one name never collide."""
    return f"{secrets.token_hex(16)}_{name}"


def original_name(stored: str) -> str:
    return stored[33:] if _STORED_RE.match(stored) else stored


def extension(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name else ""


def content_type_for(name: str, declared: str | None) -> str:
    """The type essence (parameters dropped, so nothing reaches a header unchecked), else guessed from the name."""
    essence = (declared or "").split(";", 1)[0].strip().lower()
    if essence and _TYPE_RE.match(essence) and essence not in ("text/plain", "application/x-www-form-urlencoded"):
        return essence
    guessed = mimetypes.guess_type(name, strict=False)[0]
    if guessed:
        return guessed.lower()
    return essence if essence == "text/plain" else DEFAULT_TYPE


def _active_type(content_type: str) -> bool:
    return content_type in ACTIVE_TYPES or content_type.endswith(("+xml", "/xml")) or "javascript" in content_type


def check_content(rules: UploadRules, name: str, content_type: str) -> None:
    ext = extension(name)
    if rules.file_extensions and not any(
        p == "*" or re.search(p, ext) for p in rules.file_extensions
    ):
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, f"File upload of extension {ext or '(none)'} is disabled.")
    if rules.allow_active_content:
        return
    if ext in ACTIVE_EXTENSIONS:
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, f"File upload of extension {ext} is disabled.")
    if _active_type(content_type):
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, f"File upload of type {content_type} is disabled.")


def served_type(content_type: str) -> str:
    """Stored types were checked at upload; an active one (from a store written before the rule) is neutered."""
    if not _TYPE_RE.match(content_type) or _active_type(content_type):
        return DEFAULT_TYPE
    return content_type


def disposition(stored: str, content_type: str) -> str:
    kind = "inline" if content_type in INLINE_TYPES else "attachment"
    return f'{kind}; filename="{original_name(stored)}"'
