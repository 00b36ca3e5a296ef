"""Light and dark themes after Telegram's own colours, so a chart sits well in a chat or the Mini App."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from charts.model import Band

ThemeName = Literal["light", "dark"]


@dataclass(frozen=True, slots=True)
class Theme:
    """Every colour a chart uses, as ``#rrggbb``."""

    name: str
    background: str
    text: str
    hint: str
    accent: str
    grid: str
    track: str
    succeeded: str
    failed: str
    retried: str
    good: str
    fair: str
    poor: str
    no_data: str
    slices: tuple[str, ...]
    other_slice: str

    def band_colour(self, band: Band) -> str:
        """The calendar colour of an uptime band."""
        return {Band.GOOD: self.good, Band.FAIR: self.fair, Band.POOR: self.poor}.get(band, self.no_data)


LIGHT = Theme(
    name="light",
    background="#ffffff",
    text="#000000",
    hint="#999999",
    accent="#2481cc",
    grid="#e7e9ec",
    track="#f1f1f1",
    succeeded="#2da44e",
    failed="#e5484d",
    retried="#f0a020",
    good="#2da44e",
    fair="#f2c230",
    poor="#e5484d",
    no_data="#e2e5e9",
    slices=("#e5484d", "#f08c2e", "#8e6cef", "#2481cc", "#d6409f"),
    other_slice="#a8b0b8",
)

DARK = Theme(
    name="dark",
    background="#17212b",
    text="#f5f5f5",
    hint="#708499",
    accent="#6ab3f3",
    grid="#243140",
    track="#1f2b38",
    succeeded="#3fb950",
    failed="#f0575c",
    retried="#f2a93b",
    good="#3fb950",
    fair="#f2c94c",
    poor="#f0575c",
    no_data="#2b3a4a",
    slices=("#f0575c", "#f59a45", "#a48bf5", "#6ab3f3", "#e26bb5"),
    other_slice="#6b7d8f",
)

THEMES: dict[str, Theme] = {LIGHT.name: LIGHT, DARK.name: DARK}


def resolve(theme: ThemeName | Theme) -> Theme:
    """A theme by name, or the given one."""
    if isinstance(theme, Theme):
        return theme
    try:
        return THEMES[theme]
    except KeyError:
        raise ValueError(f"unknown theme {theme!r}; expected one of {sorted(THEMES)}") from None
