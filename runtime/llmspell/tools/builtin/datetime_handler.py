"""datetime-handler: parse, format, convert between time zones (IANA, via zoneinfo), add, diff."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from llmspell.core.errors import ValidationError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams

DEFAULT_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
_FORMATS = [
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%d %B %Y", "%B %d, %Y",
    "%d %b %Y", "%b %d, %Y", "%Y%m%dT%H%M%S", "%H:%M:%S", "%H:%M",
]
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


def chrono_to_strftime(fmt: str) -> str:
    """rs-llmspell uses chrono format strings; translate the chrono-only bits (``%.f``, ``%.3f``)."""
    fmt = re.sub(r"%\.(\d)f", ".%f", fmt)
    return fmt.replace("%.f", ".%f").replace("%3f", "%f").replace("%6f", "%f").replace("%9f", "%f")


def get_zone(name: str | None, param: str = "timezone") -> tzinfo:
    if not name or name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", name)
    if m:
        from datetime import timezone

        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return timezone(delta if m.group(1) == "+" else -delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"datetime-handler: parameter '{param}': unknown time zone {name!r} "
                              "(expected an IANA name such as 'Europe/Paris', 'UTC', or an offset '+02:00')") from None


def parse_datetime(text: str, zone: tzinfo = UTC) -> datetime:
    """ISO 8601, RFC 2822, unix timestamps and common formats; naive values are taken in ``zone``."""
    s = text.strip()
    if not s:
        raise ValidationError("datetime-handler: parameter 'input' is empty")
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        v = float(s)
        if abs(v) > 1e11:  # milliseconds
            v /= 1000.0
        return datetime.fromtimestamp(v, UTC)
    if s.lower() == "now":
        return datetime.now(UTC)
    dt: datetime | None = None
    try:
        dt = datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        pass
    if dt is None:
        try:
            dt = parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError):
            dt = None
    if dt is None:
        for f in _FORMATS:
            try:
                dt = datetime.strptime(s, f)
                break
            except ValueError:
                continue
    if dt is None:
        raise ValidationError(f"datetime-handler: parameter 'input': cannot parse {text!r} as a date/time "
                              "(expected ISO 8601, RFC 2822, a unix timestamp or e.g. '2024-01-15 10:30:00')")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return dt


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _parsed(dt: datetime) -> dict[str, Any]:
    utc = dt.astimezone(UTC)
    return {
        "utc": _iso(utc), "local": dt.isoformat(), "timestamp": int(utc.timestamp()),
        "timestamp_ms": int(utc.timestamp() * 1000),
        "year": dt.year, "month": dt.month, "day": dt.day, "hour": dt.hour, "minute": dt.minute,
        "second": dt.second, "weekday": dt.strftime("%A"), "day_of_year": dt.timetuple().tm_yday,
        "timezone": str(dt.tzinfo) if dt.tzinfo else "UTC",
    }


def _offset_seconds(dt: datetime) -> int:
    off = dt.utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def _human(seconds: float) -> str:
    neg = seconds < 0
    s = int(abs(seconds))
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n, s = divmod(s, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    text = ", ".join(parts) or "0 seconds"
    return f"-{text}" if neg else text


class DateTimeHandlerParams(ToolParams):
    operation: Literal["parse", "now", "convert_timezone", "convert", "add", "subtract", "difference", "info",
                       "format", "formats"] = Field(description="parse, now, convert_timezone, add, subtract, "
                                                                "difference, info, format or formats")
    input: str | None = Field(None, description="A date/time (ISO 8601, RFC 2822, unix timestamp, ...)")
    timezone: str | None = Field(None, description="IANA time zone for 'now' and for naive inputs (default UTC)")
    target_timezone: str | None = Field(None, description="convert_timezone: the zone to convert to")
    amount: float | None = Field(None, description="add/subtract: how many units")
    unit: Literal["seconds", "minutes", "hours", "days", "weeks"] = Field("days", description="add/subtract unit")
    start: str | None = Field(None, description="difference: start date/time")
    end: str | None = Field(None, description="difference: end date/time")
    format: str = Field(DEFAULT_FORMAT, description="strftime/chrono format for 'now' and 'format'")


class DateTimeHandlerTool(BuiltinTool):
    name = "datetime-handler"
    description = "Parse, format and convert dates and times across time zones; add, subtract and diff them"
    category = "utility"
    tags = ("date", "time", "timezone")
    Params = DateTimeHandlerParams

    async def run(self, p: DateTimeHandlerParams, ctx: ToolContext) -> dict[str, Any]:
        zone = get_zone(p.timezone)
        op = "convert_timezone" if p.operation == "convert" else p.operation

        def need_input() -> datetime:
            if not p.input:
                raise ValidationError(f"{self.name}: operation '{op}' needs parameter 'input'")
            return parse_datetime(p.input, zone)

        if op == "now":
            now = datetime.now(zone)
            fmt = chrono_to_strftime(p.format)
            shown = now.astimezone(UTC) if fmt.endswith("Z") else now
            return {"timezone": p.timezone or "UTC", "datetime": shown.strftime(fmt), "format": p.format,
                    "iso": now.isoformat(), "timestamp": int(now.timestamp())}
        if op == "parse":
            dt = need_input()
            return {"input": p.input, "parsed": _parsed(dt)}
        if op == "convert_timezone":
            dt = need_input()
            if not p.target_timezone:
                raise ValidationError(f"{self.name}: operation 'convert_timezone' needs parameter 'target_timezone'")
            conv = dt.astimezone(get_zone(p.target_timezone, "target_timezone"))
            return {"original": dt.isoformat(), "converted": conv.isoformat(), "target_timezone": p.target_timezone}
        if op in ("add", "subtract"):
            dt = need_input()
            if p.amount is None:
                raise ValidationError(f"{self.name}: operation '{op}' needs parameter 'amount'")
            delta = timedelta(seconds=p.amount * _UNIT_SECONDS[p.unit])
            res = dt + delta if op == "add" else dt - delta
            return {"original": dt.isoformat(), "result": res.isoformat(), "amount": p.amount, "unit": p.unit}
        if op == "difference":
            if not p.start or not p.end:
                raise ValidationError(f"{self.name}: operation 'difference' needs parameters 'start' and 'end'")
            a, b = parse_datetime(p.start, zone), parse_datetime(p.end, zone)
            total = (b - a).total_seconds()
            return {"start": a.isoformat(), "end": b.isoformat(), "difference": {
                "total_seconds": total, "days": total / 86400, "hours": total / 3600, "minutes": total / 60,
                "human_readable": _human(total)}}
        if op == "info":
            dt = need_input()
            iso = dt.isocalendar()
            return {"input": p.input, "info": {
                **_parsed(dt), "week_number": iso.week, "iso_year": iso.year, "quarter": (dt.month - 1) // 3 + 1,
                "is_leap_year": calendar.isleap(dt.year), "days_in_month": calendar.monthrange(dt.year, dt.month)[1],
                "is_weekend": dt.weekday() >= 5, "month_name": dt.strftime("%B"),
                "utc_offset_seconds": _offset_seconds(dt)}}
        if op == "format":
            dt = need_input()
            return {"input": p.input, "formatted": dt.strftime(chrono_to_strftime(p.format)), "format": p.format}
        # formats
        sample = datetime(2024, 1, 15, 10, 30, 0, tzinfo=UTC)
        return {"available_formats": ["ISO 8601", "RFC 2822", "unix timestamp", *_FORMATS],
                "example_formats": {f: sample.strftime(f) for f in _FORMATS[:8]}}
