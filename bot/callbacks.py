"""Typed callback data (Telegram caps callback data at 64 bytes: short prefixes)."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class Area(StrEnum):
    """Top-level areas of the main menu."""

    MENU = "menu"
    CONNECTIONS = "conn"
    ACCOUNTS = "acc"
    PROXIES = "prx"
    JOBS = "jobs"
    ANALYTICS = "ana"
    SETTINGS = "set"
    HELP = "help"


class MenuCB(CallbackData, prefix="m"):
    """Open an area of the main menu."""

    area: Area


class ConnAction(StrEnum):
    """What a connection button does."""

    LIST = "ls"
    OPEN = "op"
    START = "st"
    STOP = "sp"
    PAUSE = "pa"
    RESUME = "re"
    RUN = "rn"
    DRY = "dr"
    DELETE = "de"
    DELETE_YES = "dy"
    NEW = "nw"
    EDIT = "ed"
    POLICY = "po"


class ConnCB(CallbackData, prefix="c"):
    """A connection list page or an action on one connection."""

    action: ConnAction
    id: int = 0
    page: int = 0


class JobAction(StrEnum):
    """What a job button does."""

    ACTIVE = "ac"
    HISTORY = "hi"
    DLQ = "dq"
    OPEN = "op"
    RETRY = "rt"
    DELETE = "de"
    CANCEL = "ca"
    LOGS = "lg"


class JobCB(CallbackData, prefix="j"):
    """A jobs view or an action on one job; ``level`` filters logs."""

    action: JobAction
    id: int = 0
    page: int = 0
    level: str = ""


class AnaCB(CallbackData, prefix="a"):
    """Analytics over the last ``days`` days."""

    days: int


class ProxyAction(StrEnum):
    """What a proxy button does."""

    LIST = "ls"
    OPEN = "op"
    ADD = "ad"
    TEST = "te"
    TEST_ALL = "ta"
    EDIT = "ed"
    STEPS = "sb"
    KIND = "ki"
    DELETE = "de"
    DELETE_YES = "dy"


class ProxyCB(CallbackData, prefix="p"):
    """A proxy list or an action on one proxy (``kind``: the type chosen step by step)."""

    action: ProxyAction
    id: int = 0
    kind: str = ""


class AccAction(StrEnum):
    """What an account button does."""

    LIST = "ls"
    OPEN = "op"
    ADD = "ad"
    ADD_IG = "ai"
    ADD_GRAPH = "ag"
    ADD_YT = "ay"
    REFRESH = "rf"
    REAUTH = "ra"
    SOLVED = "sv"
    CODE = "cd"
    DELETE = "de"
    DELETE_YES = "dy"
    GRAPH_FACEBOOK = "gf"  # add a Graph account: Instagram API with Facebook Login
    GRAPH_INSTAGRAM = "gi"  # ... with Instagram Login
    UPDATE = "up"  # give an existing account new credentials
    COOKIES = "ck"  # a YouTube account's cookies.txt for downloads


class AccCB(CallbackData, prefix="a2"):
    """An accounts view or an action on one account."""

    action: AccAction
    id: int = 0


class WizCB(CallbackData, prefix="w"):
    """A button of the connection wizard: ``step`` it belongs to, ``value`` chosen."""

    step: str
    value: str = ""


class SetCB(CallbackData, prefix="s"):
    """A settings view or change: ``section`` and ``value``."""

    section: str
    value: str = ""


class PolicyCB(CallbackData, prefix="pp"):
    """A change to a connection's proxy rotation policy."""

    id: int
    what: str
    value: str = ""
