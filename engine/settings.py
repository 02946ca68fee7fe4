"""Settings: one field = one CLI flag = one environment variable = one README entry."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any


def _opt(env: str, help: str, default: Any, **kw: Any) -> Any:
    return field(default=default, metadata={"env": env, "help": help, **kw})


@dataclass(frozen=True, slots=True)
class Settings:
    app_id: str = _opt("PARSE_SERVER_APPLICATION_ID", "Application id clients must send.", "sleeplab")
    master_key: str = _opt(
        "PARSE_SERVER_MASTER_KEY", "Master key (bypasses every permission). Generated and printed once if unset.", ""
    )
    read_only_master_key: str = _opt(
        "PARSE_SERVER_READ_ONLY_MASTER_KEY", "Read-only master key: reads like the master key, every write refused "
        "(119).", "",
    )
    database_uri: str = _opt(
        "PARSE_SERVER_DATABASE_URI",
        "sqlite:///path.db (the default is sqlite:///data/sleeplab.db), mongodb://host/db, or memory:// (not kept).",
        "",
    )
    mount_path: str = _opt("PARSE_SERVER_MOUNT_PATH", "Path the API is served under.", "/parse")
    cloud: str = _opt("PARSE_SERVER_CLOUD", "Hook module path or directory (e.g. hooks/).", "")
    host: str = _opt("PARSE_SERVER_HOST", "Interface to listen on.", "127.0.0.1")
    port: int = _opt("PORT", "Port to listen on.", 1337)
    schema_path: str = _opt("SLEEPLAB_SCHEMA", "Schema file imported at start.", "schema/sleeplab.json")
    server_url: str = _opt("PARSE_SERVER_URL", "Public URL of the API (file urls, Location headers).", "")
    allow_client_class_creation: bool = _opt(
        "PARSE_SERVER_ALLOW_CLIENT_CLASS_CREATION", "Let clients create classes by writing to them.", False
    )
    default_limit: int = _opt("PARSE_SERVER_DEFAULT_LIMIT", "Rows a find returns without a limit.", 100)
    max_limit: int = _opt("PARSE_SERVER_MAX_LIMIT", "Largest limit honoured (larger ones are clamped).", 10000)
    database_max_time_ms: int = _opt(
        "PARSE_SERVER_DATABASE_MAX_TIME_MS", "Milliseconds one query may run before it fails with 124 "
        "(Parse Server's databaseOptions.maxTimeMS); 0 = no limit.", 5000,
    )
    batch_limit: int = _opt("PARSE_SERVER_BATCH_REQUEST_LIMIT", "Most sub-requests one /batch may carry.", 50)
    master_key_ips: tuple[str, ...] = _opt(
        "PARSE_SERVER_MASTER_KEY_IPS", "Comma-separated IPs/CIDRs the master key is honoured from.",
        ("127.0.0.1", "::1"),
    )
    javascript_key: str = _opt("PARSE_SERVER_JAVASCRIPT_KEY", "If set, JS clients must send it.", "")
    rest_api_key: str = _opt("PARSE_SERVER_REST_API_KEY", "If set, REST clients must send it.", "")
    client_key: str = _opt("PARSE_SERVER_CLIENT_KEY", "If set, iOS/Android clients must send it.", "")
    dotnet_key: str = _opt("PARSE_SERVER_DOT_NET_KEY", "If set, .NET clients must send it.", "")
    allow_origin: tuple[str, ...] = _opt("PARSE_SERVER_ALLOW_ORIGIN", "Comma-separated CORS origins.", ("*",))
    access_log: bool = _opt("SLEEPLAB_ACCESS_LOG", "Log one line per request (off: it costs throughput).", False)
    max_body_bytes: int = _opt("SLEEPLAB_MAX_BODY_BYTES", "Largest request body accepted.", 20 * 1024 * 1024)
    session_length: int = _opt("PARSE_SERVER_SESSION_LENGTH", "Seconds a session lives.", 31536000)
    enforce_private_users: bool = _opt(
        "PARSE_SERVER_ENFORCE_PRIVATE_USERS", "New users get no public read access.", True
    )
    enable_anonymous_users: bool = _opt("PARSE_SERVER_ENABLE_ANON_USERS", "Allow the anonymous auth provider.", True)
    verify_user_emails: bool = _opt("PARSE_SERVER_VERIFY_USER_EMAILS", "Send a verification email on sign-up.", False)
    prevent_login_with_unverified_email: bool = _opt(
        "PARSE_SERVER_PREVENT_LOGIN_WITH_UNVERIFIED_EMAIL", "Refuse log-in until the email is verified.", False
    )
    email_verify_token_validity: int = _opt(
        "PARSE_SERVER_EMAIL_VERIFY_TOKEN_VALIDITY_DURATION", "Seconds an email verification link stays valid.", 86400
    )
    reset_token_validity: int = _opt(
        "PARSE_SERVER_PASSWORD_POLICY_RESET_TOKEN_VALIDITY_DURATION", "Seconds a password reset link stays valid.",
        3600,
    )
    password_pattern: str = _opt(
        "PARSE_SERVER_PASSWORD_POLICY_VALIDATOR_PATTERN", "Regex every new password must match.", ""
    )
    password_min_length: int = _opt("SLEEPLAB_PASSWORD_MIN_LENGTH", "Shortest password accepted.", 0)
    password_do_not_allow_username: bool = _opt(
        "PARSE_SERVER_PASSWORD_POLICY_DO_NOT_ALLOW_USERNAME", "Refuse passwords that contain the username.", False
    )
    account_lockout_threshold: int = _opt(
        "PARSE_SERVER_ACCOUNT_LOCKOUT_THRESHOLD", "Failed log-ins that lock an account (0 = never).", 0
    )
    account_lockout_duration: int = _opt(
        "PARSE_SERVER_ACCOUNT_LOCKOUT_DURATION", "Minutes an account stays locked.", 5
    )
    public_server_url: str = _opt(
        "PARSE_PUBLIC_SERVER_URL", "URL used in email links (defaults to the server URL).", ""
    )
    app_name: str = _opt("PARSE_SERVER_APP_NAME", "App name used in emails.", "Sleep Lab")
    mail_adapter: str = _opt(
        "SLEEPLAB_MAIL_ADAPTER", "module:Class of the mail adapter; the default writes mails to the log.", ""
    )
    oidc_issuer: str = _opt("SLEEPLAB_OIDC_ISSUER", "Issuer (iss) accepted for OpenID-Connect ID tokens.", "")
    oidc_audience: str = _opt("SLEEPLAB_OIDC_AUDIENCE", "Audience (aud) accepted for OpenID-Connect ID tokens.", "")
    hook_timeout: float = _opt("SLEEPLAB_HOOK_TIMEOUT", "Seconds a cloud hook may run before the request fails (141).",
                               30.0)
    server_only_classes: tuple[str, ...] = _opt(
        "SLEEPLAB_SERVER_ONLY_CLASSES", "Classes clients may read (per CLP) but never write; hooks write them.",
        ("AuditLog",),
    )
    append_only_classes: tuple[str, ...] = _opt(
        "SLEEPLAB_APPEND_ONLY_CLASSES", "Classes whose objects are never updated or deleted through any API, master "
        "key included (no purge, no class drop, no field delete); empty turns it off.", ("AuditLog",),
    )
    idempotency_paths: tuple[str, ...] = _opt(
        "SLEEPLAB_IDEMPOTENCY_PATHS", "Comma-separated path regexes (below the mount path) de-duplicated by "
        "X-Parse-Request-Id, e.g. `classes/.*,functions/.*`; empty turns it off.", (),
    )
    idempotency_ttl: int = _opt("SLEEPLAB_IDEMPOTENCY_TTL", "Seconds a request id is remembered.", 300)
    oidc_keys: str = _opt(
        "SLEEPLAB_OIDC_KEYS", "JWKS JSON (inline or a file path) or a PEM public key that signs the ID tokens.", ""
    )
    live_query_classes: tuple[str, ...] = _opt(
        "PARSE_SERVER_LIVEQUERY_CLASSNAMES", "Comma-separated classes that publish LiveQuery events; empty = all.", (),
    )
    live_query_redis_url: str = _opt(
        "PARSE_SERVER_LIVEQUERY_REDIS_URL", "redis:// URL carrying LiveQuery events between processes; empty = "
        "in-process only.", "",
    )

    # Files (/files): where they live, who may upload what, and how download URLs are signed.
    files_dir: str = _opt(
        "SLEEPLAB_FILES_DIR", "Directory of the filesystem files adapter; empty = `files/` beside the SQLite "
        "database (GridFS on MongoDB, a throwaway directory on memory://).", "",
    )
    max_upload_bytes: int = _opt("SLEEPLAB_MAX_UPLOAD_BYTES", "Largest file upload accepted (413 beyond).",
                                 2 * 1024**3)
    file_upload_enable_for_public: bool = _opt(
        "PARSE_SERVER_FILE_UPLOAD_ENABLE_FOR_PUBLIC", "Let callers without a session upload files.", False
    )
    file_upload_enable_for_anonymous_user: bool = _opt(
        "PARSE_SERVER_FILE_UPLOAD_ENABLE_FOR_ANONYMOUS_USER", "Let anonymous users upload files.", False
    )
    file_upload_enable_for_authenticated_user: bool = _opt(
        "PARSE_SERVER_FILE_UPLOAD_ENABLE_FOR_AUTHENTICATED_USER", "Let logged-in users upload files.", True
    )
    file_upload_file_extensions: tuple[str, ...] = _opt(
        "PARSE_SERVER_FILE_UPLOAD_FILE_EXTENSIONS", "Comma-separated regexes an upload's extension must match "
        "(`*` = any); empty = any extension the content policy allows.", (),
    )
    file_allow_active_content: bool = _opt(
        "SLEEPLAB_FILE_ALLOW_ACTIVE_CONTENT", "Accept HTML, SVG, XML, JavaScript and other active uploads.", False
    )
    public_files: bool = _opt(
        "SLEEPLAB_PUBLIC_FILES", "Hand out Parse's plain file URLs, readable by anyone who has one (unsigned).", False
    )
    file_key: str = _opt("SLEEPLAB_FILE_KEY", "Key signing file URLs; empty = derived from the master key.", "")
    file_old_keys: tuple[str, ...] = _opt(
        "SLEEPLAB_FILE_OLD_KEYS", "Comma-separated previous file keys, still accepted (key rotation).", ()
    )
    file_url_ttl: int = _opt("SLEEPLAB_FILE_URL_TTL", "Seconds a signed file URL stays valid.", 3600)
    mount_graphql: bool = _opt("PARSE_SERVER_MOUNT_GRAPHQL", "Serve the GraphQL API beside the REST mount.", True)
    graphql_path: str = _opt("PARSE_SERVER_GRAPHQL_PATH", "Path the GraphQL API is served at (app root).", "/graphql")
    serve_views: bool = _opt(
        "SLEEPLAB_SERVE_VIEWS", "Serve the starter patient and provider web views (web/app/) at /app/.", True,
    )
    graphql_public_introspection: bool = _opt(
        "PARSE_SERVER_GRAPHQL_PUBLIC_INTROSPECTION", "Let callers without the master key introspect the GraphQL "
        "schema.", False,
    )
    graphql_max_depth: int = _opt("SLEEPLAB_GRAPHQL_MAX_DEPTH", "Deepest GraphQL selection a non-master caller may "
                                  "send.", 20)
    graphql_max_fields: int = _opt("SLEEPLAB_GRAPHQL_MAX_FIELDS", "Most fields (fragments expanded) in one GraphQL "
                                   "operation of a non-master caller.", 200)
    graphql_max_aliases: int = _opt("SLEEPLAB_GRAPHQL_MAX_ALIASES", "Most aliases in one GraphQL operation of a "
                                    "non-master caller.", 30)
    graphql_max_complexity: int = _opt(
        "SLEEPLAB_GRAPHQL_MAX_COMPLEXITY", "Most field resolutions one GraphQL operation of a non-master caller may "
        "cost, fields under a connection counted once per row its first/last (or the default limit) allows; "
        "0 = no bound.", 20000,
    )

    # Connection hygiene: every limit below is enforced before the app sees a request (engine/http/protocol.py).
    header_timeout: float = _opt(
        "SLEEPLAB_HEADER_TIMEOUT", "Seconds a client has to send a request's headers (from connect or request start).",
        10.0,
    )
    body_timeout: float = _opt(
        "SLEEPLAB_BODY_TIMEOUT", "Seconds a request body may stall (no bytes arriving) before the request is dropped.",
        30.0,
    )
    keep_alive_timeout: int = _opt("SLEEPLAB_KEEP_ALIVE_TIMEOUT", "Seconds an idle keep-alive connection is kept.", 5)
    max_connections: int = _opt(
        "SLEEPLAB_MAX_CONNECTIONS", "Most concurrent connections (HTTP and websocket); past it requests get 503.",
        11000,
    )
    max_websockets: int = _opt("SLEEPLAB_MAX_WEBSOCKETS", "Most concurrent LiveQuery websockets (503 past it).",
                                 10000)
    live_query_connect_timeout: float = _opt(
        "SLEEPLAB_LIVE_QUERY_CONNECT_TIMEOUT", "Seconds a new LiveQuery websocket has to send `connect`.", 10.0
    )
    ws_ping_interval: float = _opt(
        "SLEEPLAB_WS_PING_INTERVAL", "Seconds between websocket pings; a socket that misses a pong for as long is "
        "closed (0 = no pings).", 20.0,
    )
    # LiveQuery (see livequery/): who is master on a websocket, how far a slow reader may fall behind, compression.
    live_query_master_key: bool = _opt(
        "SLEEPLAB_LIVE_QUERY_MASTER_KEY", "Honour the master key on LiveQuery `connect` (Parse's liveQuery "
        "keyPairs); off = a masterKey connects as an ordinary client.", False,
    )
    live_query_max_queue: int = _opt(
        "SLEEPLAB_LIVE_QUERY_MAX_QUEUE", "Events one LiveQuery client may have waiting; past it (or 8 MiB) it is "
        "disconnected with an error.", 1000,
    )
    ws_per_message_deflate: bool = _opt(
        "SLEEPLAB_WS_PER_MESSAGE_DEFLATE", "Negotiate permessage-deflate on websockets (costs ~40 KB per socket; "
        "off, as in Parse Server's ws).", False,
    )

    # The server's log as /scriptlog serves it (engine/logbook.py) and outbound webhooks (engine/cloud/webhooks.py).
    log_ring_size: int = _opt("SLEEPLAB_LOG_RING_SIZE", "Log entries kept in memory for /scriptlog (the Dashboard's "
                              "Logs page).", 1000)
    log_file: str = _opt("SLEEPLAB_LOG_FILE", "Also append those entries (scrubbed JSON lines, rotated at 10 MB) to "
                         "this file.", "")
    webhook_key: str = _opt("PARSE_SERVER_WEBHOOK_KEY", "Sent as X-Parse-Webhook-Key with every webhook call, so the "
                            "receiver can tell the server's calls apart.", "")
    webhook_allowed_hosts: tuple[str, ...] = _opt(
        "SLEEPLAB_WEBHOOK_ALLOWED_HOSTS", "Comma-separated hosts (host or host:port) a webhook URL may name; empty = "
        "no webhook may be registered or called, `*` = any host (a webhook URL is SSRF-capable).", (),
    )
    webhook_timeout: float = _opt("SLEEPLAB_WEBHOOK_TIMEOUT", "Seconds one webhook call may take (141 past it).", 10.0)
    webhook_max_response_bytes: int = _opt("SLEEPLAB_WEBHOOK_MAX_RESPONSE_BYTES", "Largest webhook answer read "
                                           "(143 past it).", 1024 * 1024)

    def with_overrides(self, values: Mapping[str, Any]) -> Settings:
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    @property
    def client_keys(self) -> tuple[str, ...]:
        return tuple(k for k in (self.javascript_key, self.rest_api_key, self.client_key, self.dotnet_key) if k)

    def links_url(self) -> str:
        return (self.public_server_url or self.public_url()).rstrip("/")

    def public_url(self) -> str:
        if self.server_url:
            return self.server_url.rstrip("/")
        return f"http://{self.host}:{self.port}{self.mount_path}"


def _coerce(raw: str, kind: Any) -> Any:
    if kind in (bool, "bool"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in (tuple[str, ...], "tuple[str, ...]"):
        if raw.lstrip().startswith("["):
            # Parse's own JSON form for list options (e.g. masterKeyIps: ["10.0.0.1"]).
            items = json.loads(raw)
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ValueError(f"expected a JSON list of strings, got {raw!r}")
            return tuple(i.strip() for i in items if i.strip())
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    return raw


def env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """Only the settings the environment sets (so a config file's values survive where it says nothing)."""
    values: dict[str, Any] = {}
    for f in fields(Settings):
        env = f.metadata["env"]
        if env in environ:
            values[f.name] = _coerce(environ[env], f.type)
    return values


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings(**env_values(os.environ if environ is None else environ))


def coerce_option(name: str, raw: str) -> Any:
    kind = next(f.type for f in fields(Settings) if f.name == name)
    return _coerce(raw, kind)


def ensure_master_key(settings: Settings) -> tuple[Settings, bool]:
    """Never run with a fixed default master key: generate one when none is configured."""
    if settings.master_key:
        return settings, False
    return replace(settings, master_key=secrets.token_urlsafe(32)), True


def option_fields() -> Sequence[Any]:
    return fields(Settings)
