"""Small routes: /health and /serverInfo (the feature list says what this server really serves)."""

from __future__ import annotations

from collections.abc import Callable

from engine.http.call import ApiCall, ApiResult

PARSE_COMPAT_VERSION = "9.10.0"
# Whether the route table serves `method path` (e.g. "PUT", "/config"): features are read off it, never typed in.
Serves = Callable[[str, str], bool]


async def health(call: ApiCall) -> ApiResult:
    return ApiResult({"status": "ok"})


def features(serves: Serves) -> dict[str, object]:
    """Parse Server's FeaturesRouter shape, each flag derived from the routes and the app's configuration."""
    config = serves("GET", "/config") and serves("PUT", "/config")
    schemas = serves("POST", "/schemas/x")
    return {
        # Parse.Config keys are created, changed and deleted (`{"__op": "Delete"}`) through PUT /config.
        "globalConfig": {"create": config, "read": serves("GET", "/config"), "update": config, "delete": config},
        "hooks": {"create": serves("POST", "/hooks/functions") and serves("POST", "/hooks/triggers"),
                  "read": serves("GET", "/hooks/functions") and serves("GET", "/hooks/triggers"),
                  "update": serves("PUT", "/hooks/functions/x") and serves("PUT", "/hooks/triggers/x/beforeSave"),
                  "delete": serves("DELETE", "/hooks/functions/x")
                  and serves("DELETE", "/hooks/triggers/x/beforeSave")},
        # The Jobs page lists deployed jobs and their schedules and starts runs: all three must be served.
        "cloudCode": {"jobs": serves("POST", "/jobs/x") and serves("GET", "/cloud_code/jobs/data")
                      and serves("GET", "/cloud_code/jobs")},
        "logs": {key: serves("GET", "/scriptlog") for key in ("level", "size", "order", "until", "from")},
        # /push answers 115: push is never configured here, so nothing is sent or stored as sent; audiences
        # (saved `_Installation` queries) are kept and listed all the same, as Parse does.
        "push": {"immediatePush": False, "scheduledPush": False, "storedPushData": False,
                 "pushAudiences": serves("GET", "/push_audiences") and serves("POST", "/push_audiences"),
                 "localization": False},
        "schemas": {"addField": schemas, "removeField": serves("PUT", "/schemas/x"), "addClass": schemas,
                    "removeClass": serves("DELETE", "/schemas/x"),
                    "clearAllDataFromClass": serves("DELETE", "/purge/x"), "exportClass": False,
                    "editClassLevelPermissions": serves("PUT", "/schemas/x"),
                    "editPointerPermissions": serves("PUT", "/schemas/x")},
        "settings": {"securityCheck": False},
    }


async def server_info(call: ApiCall, serves: Serves) -> ApiResult:
    call.require_master()
    return ApiResult({"parseServerVersion": PARSE_COMPAT_VERSION, "features": features(serves)})
