"""`myAccount`: what the signed-in user is in the app (their app roles and own patient profile id), so a client can
pick its view. Roles are master-only rows (clients cannot read `_Role`), so this is the client's one way to ask."""

from __future__ import annotations

from typing import Any

from engine.cloud import FunctionRequest, define
from engine.wire import Pointer
from hooks._clinic import APP_ROLES, caller_id, roles_of


@define("myAccount", validator={"requireUser": True})
async def my_account(req: FunctionRequest) -> dict[str, Any]:
    user_id = caller_id(req)
    assert user_id is not None  # requireUser
    roles = await roles_of(req.data, user_id)
    own = await req.data.query("PatientProfile").equal_to("user", Pointer("_User", user_id)).first(use_master=True)
    # Only the app's roles: care-team role names carry other users' ids and are none of the client's business.
    return {"roles": [r for r in APP_ROLES if r in roles], "profileId": own.object_id if own is not None else None}
