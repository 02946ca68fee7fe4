"""The LiveQuery wire protocol: client frames parsed into typed messages, server messages built as dicts."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.schema.model import ClassDef, FieldType
from engine.storage.base import StoredObject
from engine.wire import encode, format_date

MAX_FRAME = 64 * 1024  # a subscription is a small query; anything bigger is abuse, not a client
MAX_JSON_DEPTH = 40  # parse_where has its own (smaller) limit; this one guards the JSON walk itself

BAD_MESSAGE, UNKNOWN_CLIENT, UNKNOWN_OP, BAD_KEYS = 1, 2, 3, 4
CONNECT_KEYS = frozenset({"op", "applicationId", "javascriptKey", "masterKey", "clientKey", "restAPIKey",
                          "windowsKey", "sessionToken", "installationId"})
SUBSCRIBE_KEYS = frozenset({"op", "requestId", "query", "sessionToken"})
QUERY_KEYS = frozenset({"className", "where", "keys", "fields", "watch"})  # `fields`: keys' older name
BUILTIN_KEYS = ("className", "objectId", "createdAt", "updatedAt", "ACL")

FileUrl = Callable[[str], str]
Json = dict[str, Any]


class ProtocolError(Exception):
    """A frame the server answers with an `error` message (code 1 bad message, 3 unknown op, ...)."""

    def __init__(self, code: int, message: str, *, reconnect: bool = True, request_id: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.reconnect, self.request_id = code, message, reconnect, request_id


@dataclass(frozen=True, slots=True)
class Connect:
    application_id: str
    master_key: str | None
    client_keys: tuple[str, ...]  # javascriptKey, clientKey, restAPIKey, windowsKey as given
    session_token: str | None
    installation_id: str | None


@dataclass(frozen=True, slots=True)
class Query:
    class_name: str
    where: Mapping[str, Any]
    keys: tuple[str, ...] | None = None
    watch: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Subscribe:
    request_id: int
    query: Query
    session_token: str | None
    is_update: bool = False  # `update` replaces an existing subscription's query


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    request_id: int


Message = Connect | Subscribe | Unsubscribe


def _depth_ok(value: object, depth: int = 0) -> bool:
    if depth > MAX_JSON_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_depth_ok(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_depth_ok(v, depth + 1) for v in value)
    return True


def _bad(message: str, request_id: int | None = None) -> ProtocolError:
    return ProtocolError(BAD_MESSAGE, message, request_id=request_id)


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"{key} must be a string")
    return value


def _request_id(data: Mapping[str, Any]) -> int:
    rid = data.get("requestId")
    # bool is an int in Python but not a number in JSON Schema terms.
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise _bad("requestId must be an integer")
    return rid


def _names(value: object, key: str, rid: int) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value)
            or len(set(value)) != len(value)):
        raise _bad(f"query.{key} must be a non-empty array of unique strings", rid)
    return tuple(value)


def query(data: object, rid: int) -> Query:
    if not isinstance(data, dict):
        raise _bad("query must be an object", rid)
    extra = set(data) - QUERY_KEYS
    if extra:
        raise _bad(f"Additional properties not allowed: {sorted(extra)}", rid)
    class_name = data.get("className")
    if not isinstance(class_name, str) or not class_name:
        raise _bad("query.className must be a string", rid)
    where = data.get("where", {})
    if not isinstance(where, dict):
        raise _bad("query.where must be an object", rid)
    keys = _names(data.get("keys"), "keys", rid)
    if keys is None:
        keys = _names(data.get("fields"), "fields", rid)
    return Query(class_name, where, keys, _names(data.get("watch"), "watch", rid))


def _check_keys(data: Mapping[str, Any], allowed: frozenset[str]) -> None:
    extra = set(data) - allowed
    if extra:
        raise _bad(f"Additional properties not allowed: {sorted(extra)}")


def parse_message(frame: str | bytes) -> Message | None:
    """A typed message, None for a frame to ignore (malformed JSON, as Parse does), or ProtocolError."""
    if len(frame) > MAX_FRAME:
        raise _bad(f"message exceeds {MAX_FRAME} bytes")
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        raise _bad("message must be an object")
    if not _depth_ok(data):
        raise _bad("message is too deeply nested")
    op = data.get("op")
    if not isinstance(op, str):
        raise _bad("op is required")
    if op == "connect":
        _check_keys(data, CONNECT_KEYS)
        app_id = data.get("applicationId")
        if not isinstance(app_id, str):
            raise _bad("applicationId is required")
        keys = tuple(k for k in (_opt_str(data, n) for n in ("javascriptKey", "clientKey", "restAPIKey",
                                                                "windowsKey")) if k)
        return Connect(app_id, _opt_str(data, "masterKey"), keys, _opt_str(data, "sessionToken"),
                       _opt_str(data, "installationId"))
    if op in ("subscribe", "update"):
        _check_keys(data, SUBSCRIBE_KEYS)
        rid = _request_id(data)
        return Subscribe(rid, query(data.get("query"), rid), _opt_str(data, "sessionToken"), op == "update")
    if op == "unsubscribe":
        _check_keys(data, frozenset({"op", "requestId"}))
        return Unsubscribe(_request_id(data))
    raise ProtocolError(UNKNOWN_OP, f"Unknown op: {op[:64]}")


# ---- server → client ----

def connected(client_id: str) -> Json:
    return {"op": "connected", "clientId": client_id}


def subscribed(client_id: str, request_id: int) -> Json:
    return {"op": "subscribed", "clientId": client_id, "requestId": request_id}


def unsubscribed(client_id: str, request_id: int) -> Json:
    return {"op": "unsubscribed", "clientId": client_id, "requestId": request_id}


def error(code: int, message: str, *, reconnect: bool, request_id: int | None = None) -> Json:
    return {"op": "error", "code": code, "error": message, "reconnect": reconnect, "requestId": request_id}


def event(op: str, client_id: str, request_id: int, obj: Json, original: Json | None = None,
          installation_id: str | None = None) -> Json:
    out: Json = {"op": op, "clientId": client_id, "requestId": request_id, "object": obj}
    if original is not None:
        out["original"] = original
    if installation_id:
        out["installationId"] = installation_id
    return out


def stored_json(obj: StoredObject, file_url: FileUrl | None = None) -> Json:
    """REST JSON of the stored columns (no relations, never `internal`): what travels through pub/sub."""
    out: Json = {"objectId": obj.object_id, "createdAt": format_date(obj.created_at),
                 "updatedAt": format_date(obj.updated_at)}
    if obj.acl is not None:
        out["ACL"] = obj.acl.to_json()
    for key, value in obj.fields.items():
        out[key] = encode(value, file_url)
    return out


def object_json(cls: ClassDef, obj: StoredObject, file_url: FileUrl | None = None) -> Json:
    """The object as an event carries it: REST JSON plus `className` (Parse's `_toFullJSON`); File values get the
    URL `file_url` gives (signed), since the subscriber it is rendered for may read the object."""
    out = stored_json(obj, file_url)
    for key, fdef in cls.fields.items():
        if fdef.type is FieldType.RELATION:
            out[key] = {"__type": "Relation", "className": fdef.target_class}
    out.pop("password", None)
    out["className"] = cls.name
    return out


def only_keys(row: Json, keys: tuple[str, ...] | None) -> Json:
    if keys is None:
        return row
    return {k: v for k, v in row.items() if k in BUILTIN_KEYS or k in keys}


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def event_text(op: str, client_id: str, request_id: int, obj_text: str, original_text: str | None = None,
               installation_id: str | None = None) -> str:
    """`event(...)` already encoded, around object texts encoded once per event and shared by subscribers."""
    out = f'{{"op":"{op}","clientId":{dumps(client_id)},"requestId":{request_id},"object":{obj_text}'
    if original_text is not None:
        out += f',"original":{original_text}'
    if installation_id:
        out += f',"installationId":{dumps(installation_id)}'
    return out + "}"
