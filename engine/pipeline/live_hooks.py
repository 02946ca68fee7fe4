"""LiveQuery's cloud-code hooks (beforeConnect, beforeSubscribe, afterEvent) run by the hook runtime.

livequery/hooks.py declares what LiveQuery asks; this answers it with the app's Cloud, building each trigger's
request with the same fields Parse gives (user, installation, client and request ids, event, original). The
composition root injects it, so livequery never imports the pipeline.
"""

from __future__ import annotations

from typing import Any

from engine.cloud.data import CloudQuery
from engine.cloud.objects import CloudObject
from engine.cloud.registry import Hook
from engine.cloud.request import trigger_request
from engine.cloud.runner import run_trigger
from engine.cloud.triggers import CONNECT_CLASS, TriggerType
from engine.pipeline.context import Services, request_context
from engine.pipeline.hooks import data_api, user_object
from engine.security.auth import Auth

Json = dict[str, Any]


class PipelineLiveHooks:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def _hook(self, kind: str, class_name: str | None) -> Hook | None:
        return self.svc.cloud.trigger(TriggerType(kind), class_name or CONNECT_CLASS)

    def has(self, kind: str, class_name: str | None = None) -> bool:
        return self._hook(kind, class_name) is not None

    async def _common(self, auth: Auth) -> dict[str, Any]:
        return {"data": data_api(self.svc, request_context(auth)), "user": await user_object(self.svc, auth),
                "master": auth.is_master, "installation_id": auth.installation_id}

    async def _run(self, hook: Hook, auth: Auth, kind: TriggerType, class_name: str, **fields: Any) -> Any:
        request = trigger_request(kind, class_name=class_name, **await self._common(auth), **fields)
        return await run_trigger(hook, request, timeout=self.svc.settings.hook_timeout, user_roles=auth.role_names)

    async def before_connect(self, auth: Auth, *, client_id: str, session_token: str | None, clients: int) -> None:
        hook = self._hook(TriggerType.BEFORE_CONNECT, None)
        if hook is not None:
            await self._run(hook, auth, TriggerType.BEFORE_CONNECT, CONNECT_CLASS, client_id=client_id,
                            session_token=session_token, clients=clients)

    async def before_subscribe(self, auth: Auth, *, class_name: str, query: Json, client_id: str, request_id: int,
                               session_token: str | None) -> Json:
        hook = self._hook(TriggerType.BEFORE_SUBSCRIBE, class_name)
        if hook is None:
            return query
        options: Json = {}
        if query.get("keys"):
            options["keys"] = ",".join(query["keys"])
        if query.get("watch"):
            options["watch"] = list(query["watch"])
        cloud_query = CloudQuery.from_json(class_name, query.get("where") or {}, options)
        result = await self._run(hook, auth, TriggerType.BEFORE_SUBSCRIBE, class_name, query=cloud_query,
                                 client_id=client_id, request_id=request_id, session_token=session_token)
        if isinstance(result, CloudQuery):
            cloud_query = result
        out: Json = {"className": class_name, "where": cloud_query.where_json()}
        opts = cloud_query.options_json()
        if opts.get("keys"):
            out["keys"] = [k for k in str(opts["keys"]).split(",") if k]
        if opts.get("watch"):
            out["watch"] = list(opts["watch"])
        return out

    async def after_event(self, auth: Auth, *, class_name: str, event: str, obj: Json, original: Json | None,
                          client_id: str, request_id: int, session_token: str | None, clients: int,
                          subscriptions: int) -> tuple[Json, Json | None] | None:
        hook = self._hook(TriggerType.AFTER_EVENT, class_name)
        if hook is None:
            return obj, original
        cloud_obj = CloudObject.from_json(class_name, obj)
        cloud_original = CloudObject.from_json(class_name, original) if original is not None else None
        result = await self._run(hook, auth, TriggerType.AFTER_EVENT, class_name, object=cloud_obj,
                                 original=cloud_original, event=event, client_id=client_id, request_id=request_id,
                                 session_token=session_token, clients=clients, subscriptions=subscriptions)
        if result is False:
            return None
        if isinstance(result, CloudObject):
            cloud_obj = result
        return cloud_obj.to_json(), cloud_original.to_json() if cloud_original is not None else None
