"""Small routes: /health and /serverInfo."""

from __future__ import annotations

from engine.http.call import ApiCall, ApiResult

PARSE_COMPAT_VERSION = "9.10.0"


async def health(call: ApiCall) -> ApiResult:
    return ApiResult({"status": "ok"})


async def server_info(call: ApiCall) -> ApiResult:
    call.require_master()
    return ApiResult({
        "parseServerVersion": PARSE_COMPAT_VERSION,
        "features": {
            "globalConfig": {"create": False, "read": False, "update": False, "delete": False},
            "hooks": {"create": False, "read": False, "update": False, "delete": False},
            "cloudCode": {"jobs": False},
            "logs": {"level": False, "size": False, "order": False, "until": False, "from": False},
            "push": {"immediatePush": False, "scheduledPush": False, "storedPushData": False,
                     "pushAudiences": False, "localization": False},
            "schemas": {"addField": True, "removeField": True, "addClass": True, "removeClass": True,
                        "clearAllDataFromClass": False, "exportClass": False,
                        "editClassLevelPermissions": True, "editPointerPermissions": True},
            "settings": {"securityCheck": False},
        },
    })
