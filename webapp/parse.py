"""Request parsing: JSON bodies and query strings checked field by field.

Wrong shapes become one ``InvalidInput`` naming every wrong field, the same error the
services raise for wrong values, so the Mini App shows both the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web

from core.errors import InvalidInput, NotFound
from core.services.analytics import Period

E = TypeVar("E", bound=StrEnum)
_MISSING = object()


async def json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty body when ``optional``)."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise InvalidInput({"body": "send a JSON object"})
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except UnicodeDecodeError:
        raise InvalidInput({"body": "the body is not UTF-8 text"}) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput({"body": f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"}) \
            from None
    except RecursionError:
        raise InvalidInput({"body": "not valid JSON: it is nested too deeply"}) from None
    if not isinstance(data, dict):
        raise InvalidInput({"body": f"must be a JSON object, not {_kind(data)}"})
    # Text no database stores: half a character (a lone \ud800-\udfff escape) or NUL (PostgreSQL).
    try:
        storable = "\\u0000" not in json.dumps(data, ensure_ascii=False).encode("utf-8").decode("utf-8")
    except UnicodeEncodeError:
        storable = False
    if not storable:
        raise InvalidInput({"body": "a text holds a NUL character or half of a character (a lone surrogate)"})
    return data


def _no_constant(name: str) -> float:
    """NaN and Infinity are not JSON (Python's parser takes them; no column or client does)."""
    raise InvalidInput({"body": f"not valid JSON: {name} is not a number JSON allows"})


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput({"body": f"not valid JSON: the number {text[:20]} is too large"})
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class Fields:
    """Typed reads from a JSON object; every problem is collected, ``done()`` raises them all."""

    def __init__(self, data: Mapping[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix
        self.errors: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def has(self, name: str) -> bool:
        return name in self.data

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING and required:
            self.errors[self._name(name)] = "this field is required"
        return value

    def text(self, name: str, *, required: bool = False, nullable: bool = False,
            default: str | None = None, max_length: int | None = None) -> str | None:
        value = self._get(name, required)
        if value is _MISSING:
            return default
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            self.errors[self._name(name)] = f"must be a string, not {_kind(value)}"
            return default
        if max_length is not None and len(value) > max_length:
            self.errors[self._name(name)] = f"at most {max_length} characters"
        return value

    def number(self, name: str, *, required: bool = False, nullable: bool = False,
            default: int | None = None, minimum: int | None = None, maximum: int | None = None
            ) -> int | None:
        value = self._get(name, required)
        if value is _MISSING:
            return default
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.errors[self._name(name)] = f"must be a whole number, not {_kind(value)}"
            return default
        maximum = MAX_ID if maximum is None else maximum  # ids and counts live in 32-bit columns
        minimum = -MAX_ID - 1 if minimum is None else minimum  # PostgreSQL refuses beyond either end
        if value < minimum or value > maximum:
            self.errors[self._name(name)] = _range(minimum, maximum)
        return value

    def flag(self, name: str, *, default: bool | None = None, required: bool = False) -> bool | None:
        value = self._get(name, required)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.errors[self._name(name)] = f"must be true or false, not {_kind(value)}"
            return default
        return value

    def mapping(self, name: str, *, required: bool = False, nullable: bool = True) -> dict[str, Any] | None:
        value = self._get(name, required)
        if value is _MISSING or (value is None and nullable):
            return None
        if not isinstance(value, dict):
            self.errors[self._name(name)] = f"must be an object, not {_kind(value)}"
            return None
        return value

    def strings(self, name: str, *, required: bool = False) -> list[str] | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.errors[self._name(name)] = "must be an array of strings"
            return None
        return value

    def choice(self, name: str, enum: type[E], *, required: bool = False, default: E | None = None
               ) -> E | None:
        raw = self.text(name, required=required)
        if raw is None:
            return default
        try:
            return enum(raw)
        except ValueError:
            self.errors[self._name(name)] = f"choose one of {', '.join(e.value for e in enum)}"
            return default

    def only(self, allowed: Iterable[str]) -> None:
        """Name every key that is not one of ``allowed``."""
        known = set(allowed)
        for key in self.data:
            if key not in known:
                self.errors[self._name(key)] = f"unknown field; expected one of {', '.join(sorted(known))}"

    def done(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)


MAX_ID = 2**31 - 1  # the largest value of an integer column (ids, counts)


def _range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"choose a number from {minimum} to {maximum}"
    if minimum is not None:
        return f"must be at least {minimum}"
    return f"must be at most {maximum}"


class Query:
    """Typed reads from the query string, collected like ``Fields``."""

    def __init__(self, request: web.Request) -> None:
        self.params = request.query
        self.errors: dict[str, str] = {}

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return value if value not in (None, "") else default

    def number(self, name: str, default: int | None = None, *, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
        raw = self.params.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)  # type: ignore[arg-type]
        except ValueError:
            self.errors[name] = f"'{raw}' is not a whole number"
            return default
        maximum = MAX_ID if maximum is None else maximum  # ids and counts live in 32-bit columns
        minimum = -MAX_ID - 1 if minimum is None else minimum  # PostgreSQL refuses beyond either end
        if value < minimum or value > maximum:
            self.errors[name] = _range(minimum, maximum)
        return value

    def flag(self, name: str, default: bool | None = None) -> bool | None:
        raw = (self.params.get(name) or "").lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes"):
            return True
        if raw in ("0", "false", "no"):
            return False
        self.errors[name] = "use true or false"
        return default

    def moment(self, name: str) -> datetime | None:
        raw = self.params.get(name)
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            self.errors[name] = f"'{raw}' is not an ISO 8601 date or date-time"
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def choices(self, name: str, enum: type[E]) -> list[E] | None:
        """A comma-separated list of enum values."""
        raw = self.params.get(name)
        if not raw:
            return None
        out: list[E] = []
        for part in (p.strip() for p in raw.split(",") if p.strip()):
            try:
                out.append(enum(part))
            except ValueError:
                self.errors[name] = f"'{part}' is not one of {', '.join(e.value for e in enum)}"
        return out

    def choice(self, name: str, enum: type[E], default: E) -> E:
        raw = self.params.get(name)
        if not raw:
            return default
        try:
            return enum(raw.lower())
        except ValueError:
            self.errors[name] = f"choose one of {', '.join(e.value for e in enum)}"
            return default

    def period(self, default: str = "30days") -> Period:
        try:
            return Period.parse(self.params.get("period") or default)
        except InvalidInput as exc:
            self.errors.update(exc.fields)
            return Period.parse(default)

    def page(self) -> tuple[int, int]:
        """``limit`` (1-500, default 50) and ``offset``."""
        limit = self.number("limit", 50, minimum=1, maximum=500)
        offset = self.number("offset", 0, minimum=0)
        return limit or 50, offset or 0

    def done(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)


def path_id(request: web.Request, name: str = "id") -> int:
    """An integer path parameter (the route's pattern already made it digits); beyond any row id: 404."""
    value = int(request.match_info[name])
    if not 0 < value <= MAX_ID:
        raise NotFound(f"There is no item {value}")
    return value
