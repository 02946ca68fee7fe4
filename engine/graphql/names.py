"""Names Parse Server's GraphQL API derives from class names: type names, query names (npm `pluralize`), global ids."""

from __future__ import annotations

import base64
import binascii
import re

# npm `pluralize`'s rules that matter for class names, tried last to first as the package does.
_PLURAL_RULES: tuple[tuple[str, str], ...] = (
    (r"s?$", "s"),
    (r"([^aeiou]ese)$", r"\1"),
    (r"(ax|test)is$", r"\1es"),
    (r"(alias|[^aou]us|t[lm]as|gas|ris)$", r"\1es"),
    (r"(e[mn]u)s?$", r"\1s"),
    (r"([^l]ias|[aeiou]las|[ejzr]as|[iu]am)$", r"\1"),
    (r"(alumn|syllab|vir|radi|nucle|fung|cact|stimul|termin|bacill|foc|uter|loc|strat)(?:us|i)$", r"\1i"),
    (r"(alumn|alg|vertebr)(?:a|ae)$", r"\1ae"),
    (r"(seraph|cherub)(?:im)?$", r"\1im"),
    (r"(her|at|gr)o$", r"\1oes"),
    (r"(agend|addend|millenni|dat|extrem|bacteri|desiderat|strat|candelabr|errat|ov|symposi|curricul|automat|quor)"
     r"(?:a|um)$", r"\1a"),
    (r"(apheli|hyperbat|periheli|asyndet|noumen|phenomen|criteri|organ|prolegomen|hedr|automat)(?:a|on)$", r"\1a"),
    (r"sis$", "ses"),
    (r"(?:(kni|wi|li)fe|(ar|l|ea|eo|oa|hoo)f)$", r"\1\2ves"),
    (r"([^aeiouy]|qu)y$", r"\1ies"),
    (r"([^ch][ieo][ln])ey$", r"\1ies"),
    (r"(x|ch|ss|sh|zz)$", r"\1es"),
    (r"(matr|cod|mur|sil|vert|ind|append)(?:ix|ex)$", r"\1ices"),
    (r"\b((?:tit)?m|l)(?:ice|ouse)$", r"\1ice"),
    (r"(pe)(?:rson|ople)$", r"\1ople"),
    (r"(child)(?:ren)?$", r"\1ren"),
    (r"eaux$", r"\g<0>"),
    (r"m[ae]n$", "men"),
)
_IRREGULAR = {"person": "people", "man": "men", "child": "children", "tooth": "teeth", "foot": "feet",
              "goose": "geese", "ox": "oxen", "mouse": "mice", "die": "dice", "quiz": "quizzes",
              "echo": "echoes", "hero": "heroes", "potato": "potatoes", "tomato": "tomatoes",
              "passerby": "passersby", "criterion": "criteria", "genus": "genera", "canvas": "canvases"}
_UNCOUNTABLE = frozenset({
    "adulthood", "advice", "agenda", "aid", "aircraft", "alcohol", "ammo", "analytics", "anime", "athletics",
    "audio", "bison", "blood", "bream", "buffalo", "butter", "carp", "cash", "chassis", "chess", "clothing", "cod",
    "commerce", "cooperation", "corps", "debris", "diabetes", "digestion", "elk", "energy", "equipment",
    "excretion", "expertise", "firmware", "flounder", "fun", "gallows", "garbage", "graffiti", "hardware",
    "headquarters", "health", "herpes", "highjinks", "homework", "housework", "information", "jeans",
    "justice", "kudos", "labour", "literature", "machinery", "mackerel", "mail", "media", "mews", "moose",
    "music", "mud", "manga", "news", "only", "personnel", "pike", "plankton", "pliers", "police", "pollution",
    "premises", "rain", "research", "rice", "salmon", "scissors", "series", "sewage", "shambles", "shrimp",
    "software", "staff", "swine", "tennis", "traffic", "transportation", "trout", "tuna", "wealth", "welfare",
    "whiting", "wildebeest", "wildlife", "you",
})
_UNCOUNTABLE_RE = re.compile(r"(pok[eé]mon|[^aeiou]ese|deer|fish|measles|o[iu]s|pox|sheep)$", re.IGNORECASE)


def pluralize(word: str) -> str:
    """`pluralize(word)` as the npm package does it for the last word of a camel-cased name."""
    lower = word.lower()
    if lower in _UNCOUNTABLE or _UNCOUNTABLE_RE.search(word):
        return word
    for singular, plural in _IRREGULAR.items():
        if lower.endswith(singular) and (len(lower) == len(singular) or word[-len(singular)].isupper()):
            head = word[: len(word) - len(singular)]
            tail = plural if word[-len(singular)].islower() else plural.capitalize()
            return head + tail
    for pattern, replacement in reversed(_PLURAL_RULES):
        if re.search(pattern, word, re.IGNORECASE):
            return re.sub(pattern, replacement, word, count=1, flags=re.IGNORECASE)
    return word


def type_name(class_name: str) -> str:
    """`_User` → `User`, `sleepStudy` → `SleepStudy`: Parse's transformClassNameToGraphQL."""
    name = class_name[1:] if class_name.startswith("_") else class_name
    return name[:1].upper() + name[1:]


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def get_field_name(class_name: str) -> str:
    return lower_first(type_name(class_name))


def find_field_name(class_name: str) -> str:
    return lower_first(pluralize(type_name(class_name)))


def global_id(class_name: str, object_id: str) -> str:
    return base64.b64encode(f"{class_name}:{object_id}".encode()).decode()


def parse_global_id(value: str) -> tuple[str, str] | None:
    """(className, objectId) of a Relay global id, or None when the value is not one."""
    try:
        decoded = base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    class_name, sep, object_id = decoded.partition(":")
    if not sep or not class_name or not object_id:
        return None
    return class_name, object_id


def object_id_for(class_name: str, value: str) -> str:
    """Every id input takes a global id or a bare objectId; a global id is decoded only for its own class."""
    parsed = parse_global_id(value)
    if parsed is not None and parsed[0] == class_name:
        return parsed[1]
    return value


def offset_to_cursor(offset: int) -> str:
    return base64.b64encode(f"arrayconnection:{offset}".encode()).decode()


def cursor_to_offset(cursor: str) -> int | None:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = text.partition(":")
    if prefix != "arrayconnection" or not number.isdigit() or len(number) > 16:
        return None
    return int(number)
