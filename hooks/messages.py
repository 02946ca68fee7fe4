"""Patient–care-team messaging: the sender is always the signed-in user, only sender and recipient read a message,
only the recipient marks it read (the server stamps `readAt`), and messages are never edited or deleted."""

from __future__ import annotations

from engine.cloud import DeleteRequest, SaveRequest, before_delete, before_save
from engine.wire import ACL, File, Pointer, new_object_id, now
from hooks._clinic import (
    caller_id,
    changed_keys,
    forbidden,
    guard_server_owned,
    invalid,
    on_care_team,
    pointer_id,
    profile,
    profile_user_id,
)

MAX_ATTACHMENTS = 10
MAX_BODY = 10_000


async def _may_talk(req: SaveRequest, patient_user: str, user_id: str) -> bool:
    return user_id == patient_user or await on_care_team(req.data, patient_user, user_id)


@before_save("Message")
async def check_message(req: SaveRequest) -> None:
    msg = req.object
    guard_server_owned(req, "from", "to", "patient", "conversationId", "body", "attachments", "sentAt")
    if req.original is not None:
        if req.master:
            return
        if pointer_id(req.original.get("to"), "_User", "to") != caller_id(req):
            raise forbidden("Only the recipient can mark a message read.")
        if changed_keys(req) - {"isRead", "readAt"} or msg.get("isRead") is not True:
            raise forbidden("A message can only be marked read.")
        msg["readAt"] = req.original.get("readAt") or now()
        return
    caller = caller_id(req)
    if caller is None and not req.master:
        raise forbidden("Sign in first.")
    if caller is not None:
        if "from" in msg and pointer_id(msg.get("from"), "_User", "from") != caller:
            raise forbidden("from is always the signed-in user.")
        msg["from"] = Pointer("_User", caller)
    sender = pointer_id(msg.get("from"), "_User", "from")
    recipient = pointer_id(msg.get("to"), "_User", "to")
    patient_user = profile_user_id(await profile(req.data, pointer_id(msg.get("patient"), "PatientProfile",
                                                                      "patient")))
    if not await _may_talk(req, patient_user, sender):
        raise forbidden("Only the patient and their care team can write about this patient.")
    if recipient == sender or not await _may_talk(req, patient_user, recipient):
        raise invalid("to must be the patient or a member of the patient's care team")
    body = msg.get("body")
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
        raise invalid(f"body must be a non-empty string of at most {MAX_BODY} characters")
    attachments = msg.get("attachments")
    if attachments is not None and (not isinstance(attachments, list) or len(attachments) > MAX_ATTACHMENTS
                                    or not all(isinstance(item, File) for item in attachments)):
        # Parse files: the engine lets a sender attach only its own uploads and signs their URLs for the readers.
        raise invalid(f"attachments must be a list of at most {MAX_ATTACHMENTS} files")
    conversation = msg.get("conversationId")
    if conversation is None:
        msg["conversationId"] = new_object_id(16)
    elif not isinstance(conversation, str) or not 0 < len(conversation) <= 64:
        raise invalid("conversationId must be a string of at most 64 characters")
    msg["isRead"] = False
    if "readAt" in msg:
        msg.unset("readAt")  # the server stamps it when the recipient reads the message
    msg["sentAt"] = now()
    msg.acl = ACL(read=frozenset({sender, recipient}), write=frozenset({recipient}))


@before_delete("Message")
async def keep_messages(req: DeleteRequest) -> None:
    if not req.master:
        raise forbidden("Messages are part of the record and are never deleted.")
