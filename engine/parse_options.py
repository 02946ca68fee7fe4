"""Parse Server's own configuration names → Settings values, so a Parse deployment's config starts this engine.

Two sources speak Parse's names: a Parse Server JSON config file (`sleeplab serve config.json`, camelCase options,
optionally `{"apps": [{...}]}`) and the `PARSE_SERVER_*` variables whose values are JSON objects
(`PARSE_SERVER_EXPERIMENTAL_IDEMPOTENCY_OPTIONS={"paths": [...], "ttl": 300}`). Precedence follows Parse's CLI:
flags over environment over the file. Options this engine does not implement are reported by name, never
silently dropped: a deployment must learn that, e.g., its push configuration does nothing here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from engine.settings import Settings, coerce_option

# Parse option → Settings field, for the flat options.
FLAT: Mapping[str, str] = {
    "appId": "app_id",
    "masterKey": "master_key",
    "readOnlyMasterKey": "read_only_master_key",
    "databaseURI": "database_uri",
    "mountPath": "mount_path",
    "cloud": "cloud",
    "host": "host",
    "port": "port",
    "serverURL": "server_url",
    "allowClientClassCreation": "allow_client_class_creation",
    "defaultLimit": "default_limit",
    "maxLimit": "max_limit",
    "batchRequestLimit": "batch_limit",
    "masterKeyIps": "master_key_ips",
    "javascriptKey": "javascript_key",
    "restAPIKey": "rest_api_key",
    "clientKey": "client_key",
    "dotNetKey": "dotnet_key",
    "allowOrigin": "allow_origin",
    "sessionLength": "session_length",
    "enforcePrivateUsers": "enforce_private_users",
    "enableAnonymousUsers": "enable_anonymous_users",
    "verifyUserEmails": "verify_user_emails",
    "preventLoginWithUnverifiedEmail": "prevent_login_with_unverified_email",
    "emailVerifyTokenValidityDuration": "email_verify_token_validity",
    "publicServerURL": "public_server_url",
    "appName": "app_name",
}

# Parse's object options: option → (its PARSE_SERVER_* variable, {sub-option → Settings field}).
NESTED: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "idempotencyOptions": ("PARSE_SERVER_EXPERIMENTAL_IDEMPOTENCY_OPTIONS",
                           {"paths": "idempotency_paths", "ttl": "idempotency_ttl"}),
    "passwordPolicy": ("PARSE_SERVER_PASSWORD_POLICY",
                       {"validatorPattern": "password_pattern", "resetTokenValidityDuration": "reset_token_validity",
                        "doNotAllowUsername": "password_do_not_allow_username"}),
    "accountLockout": ("PARSE_SERVER_ACCOUNT_LOCKOUT",
                       {"threshold": "account_lockout_threshold", "duration": "account_lockout_duration"}),
    "liveQuery": ("PARSE_SERVER_LIVE_QUERY", {"classNames": "live_query_classes", "redisURL": "live_query_redis_url"}),
    "fileUpload": ("PARSE_SERVER_FILE_UPLOAD_OPTIONS",
                   {"enableForPublic": "file_upload_enable_for_public",
                    "enableForAnonymousUser": "file_upload_enable_for_anonymous_user",
                    "enableForAuthenticatedUser": "file_upload_enable_for_authenticated_user",
                    "fileExtensions": "file_upload_file_extensions"}),
    "databaseOptions": ("PARSE_SERVER_DATABASE_OPTIONS", {"maxTimeMS": "database_max_time_ms"}),
}
MAX_CONFIG_BYTES = 1024 * 1024


class ConfigError(ValueError):
    """A Parse option with a value this engine cannot use (wrong type, bad JSON, unreadable file)."""


@dataclass(frozen=True, slots=True)
class ParseOptions:
    values: Mapping[str, Any]  # Settings field → value
    ignored: tuple[str, ...]  # Parse options (or variables) this engine does not implement


def _as_text(value: Any) -> str:
    """Parse's JSON values in the one text form `coerce_option` reads for every Settings field type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, int | float | str):
        return str(value)
    raise ConfigError(f"unsupported value {value!r}")


def _field(name: str, option: str, value: Any) -> Any:
    try:
        return coerce_option(name, _as_text(value))
    except (ValueError, ConfigError) as exc:
        raise ConfigError(f"{option}: {exc}") from exc


def from_mapping(options: Mapping[str, Any]) -> ParseOptions:
    """A Parse Server configuration object (the JSON config file's content)."""
    if "apps" in options:
        apps = options["apps"]
        if not isinstance(apps, list) or len(apps) != 1 or not isinstance(apps[0], Mapping):
            raise ConfigError("apps: exactly one app is supported")
        options = {**{k: v for k, v in options.items() if k != "apps"}, **apps[0]}
    values: dict[str, Any] = {}
    ignored: list[str] = []
    for option, value in options.items():
        if option in FLAT:
            if value is not None:
                values[FLAT[option]] = _field(FLAT[option], option, value)
        elif option in NESTED:
            values.update(_nested(option, value, ignored))
        else:
            ignored.append(option)
    return ParseOptions(values, tuple(ignored))


def _nested(option: str, value: Any, ignored: list[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{option}: expected an object")
    table = NESTED[option][1]
    out: dict[str, Any] = {}
    for sub, sub_value in value.items():
        name = table.get(sub)
        if name is None:
            ignored.append(f"{option}.{sub}")
        elif sub_value is not None:
            out[name] = _field(name, f"{option}.{sub}", sub_value)
    return out


def from_environment(environ: Mapping[str, str]) -> ParseOptions:
    """The `PARSE_SERVER_*` variables Settings does not read itself: Parse's JSON-object options, and any
    other Parse variable, which is reported rather than ignored in silence."""
    known = {f.metadata["env"] for f in fields(Settings)}
    by_env = {env: option for option, (env, _) in NESTED.items()}
    values: dict[str, Any] = {}
    ignored: list[str] = []
    for env, raw in environ.items():
        if env in known or not env.startswith("PARSE_SERVER_"):
            continue
        option = by_env.get(env)
        if option is None:
            ignored.append(env)
            continue
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{env}: not valid JSON ({exc.msg})") from exc
        values.update(_nested(option, parsed, ignored))
    return ParseOptions(values, tuple(ignored))


def load_config_file(path: str) -> ParseOptions:
    file = Path(path)
    try:
        if file.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a JSON object of Parse Server options")
    return from_mapping(data)
