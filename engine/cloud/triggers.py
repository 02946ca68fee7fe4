"""The trigger kinds hooks can register for, named exactly as Parse Server names them."""

from __future__ import annotations

from enum import StrEnum


class TriggerType(StrEnum):
    BEFORE_SAVE = "beforeSave"
    AFTER_SAVE = "afterSave"
    BEFORE_DELETE = "beforeDelete"
    AFTER_DELETE = "afterDelete"
    BEFORE_FIND = "beforeFind"
    AFTER_FIND = "afterFind"
    BEFORE_LOGIN = "beforeLogin"
    AFTER_LOGIN = "afterLogin"
    AFTER_LOGOUT = "afterLogout"
    # File triggers (Parse's beforeSave(Parse.File) & co.), registered under FILE_CLASS.
    BEFORE_SAVE_FILE = "beforeSaveFile"
    AFTER_SAVE_FILE = "afterSaveFile"
    BEFORE_DELETE_FILE = "beforeDeleteFile"
    AFTER_DELETE_FILE = "afterDeleteFile"
    # ---- LiveQuery (Parse's beforeConnect, beforeSubscribe, afterLiveQueryEvent) ----
    BEFORE_CONNECT = "beforeConnect"
    BEFORE_SUBSCRIBE = "beforeSubscribe"
    AFTER_EVENT = "afterEvent"


# Parse's validateClassNameForTriggers (src/triggers.js): login triggers live on _User only, the logout trigger on
# _Session only, and _Session accepts nothing else. Checked when a hook registers, so a mistake stops start-up.
LOGIN_TRIGGERS = frozenset({TriggerType.BEFORE_LOGIN, TriggerType.AFTER_LOGIN})
# beforeConnect has no class; Parse files it under this pseudo-class name.
CONNECT_CLASS = "@Connect"

# File triggers: the pseudo class Parse uses for them ("@File"), and no other trigger may use it.
FILE_CLASS = "@File"
FILE_TRIGGERS = frozenset({TriggerType.BEFORE_SAVE_FILE, TriggerType.AFTER_SAVE_FILE,
                           TriggerType.BEFORE_DELETE_FILE, TriggerType.AFTER_DELETE_FILE})


def check_trigger_class(kind: TriggerType, class_name: str) -> None:
    """Refuse trigger/class pairs Parse refuses; raises ValueError with Parse's wording."""
    if (kind in FILE_TRIGGERS) != (class_name == FILE_CLASS):
        raise ValueError("File triggers are registered with before_save_file & co., on files only")
    if (kind is TriggerType.BEFORE_CONNECT) != (class_name == CONNECT_CLASS):
        raise ValueError("beforeConnect is registered with @before_connect, for every connection")
    if kind is TriggerType.BEFORE_SAVE and class_name == "_PushStatus":
        raise ValueError("Only afterSave is allowed on _PushStatus")
    if kind in LOGIN_TRIGGERS and class_name != "_User":
        raise ValueError("Only the _User class is allowed for the beforeLogin and afterLogin triggers")
    if kind is TriggerType.AFTER_LOGOUT and class_name != "_Session":
        raise ValueError("Only the _Session class is allowed for the afterLogout trigger.")
    if class_name == "_Session" and kind is not TriggerType.AFTER_LOGOUT:
        raise ValueError("Only the afterLogout trigger is allowed for the _Session class.")
