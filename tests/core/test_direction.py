"""A direction names both of its platforms (the one place that maps them)."""

from __future__ import annotations

from core.models import Direction, Platform


def test_each_direction_reads_from_one_platform_and_publishes_to_the_other() -> None:
    assert (Direction.INSTAGRAM_TO_YOUTUBE.source_platform,
            Direction.INSTAGRAM_TO_YOUTUBE.destination_platform) == (Platform.INSTAGRAM, Platform.YOUTUBE)
    assert (Direction.YOUTUBE_TO_INSTAGRAM.source_platform,
            Direction.YOUTUBE_TO_INSTAGRAM.destination_platform) == (Platform.YOUTUBE, Platform.INSTAGRAM)
    assert Direction("youtube_to_instagram").destination_platform is Platform.INSTAGRAM
