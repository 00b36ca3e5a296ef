"""YouTube quota units spent on detection, per new Short, in steady state (goal: 0).

A YouTube source polls the wire-level fake (which charges units as Google does) while a
new Short appears before each poll: first as the feed usually links Shorts (/shorts/),
then linked as /watch (needs one videos.list), then with the feed down (uploads playlist).
Prints units per new Short for each case. Asserts nothing.

    .venv/bin/python bench/youtube_quota.py --polls 20
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.platforms.base import MemoryCredentials  # noqa: E402
from core.platforms.youtube import YouTubeSource  # noqa: E402
from core.platforms.youtube_client import YouTubeClient  # noqa: E402
from tests.fakes.youtube import FakeYouTube  # noqa: E402


async def main(polls: int) -> None:
    yt = FakeYouTube()
    await yt.start()
    store = MemoryCredentials({"access_token": "ya29.fake-access",
                               "expiry": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                               "client_secret": {"installed": {"client_id": "c", "client_secret": "s"}}})
    client = YouTubeClient(store, api_base=yt.base_url + "/", num_retries=0)
    source = YouTubeSource(client, channel_id=yt.channel_id, web_base=yt.base_url)
    try:
        for _ in range(5):
            yt.add_video(duration=30)
        cursor = (await source.list_new({})).cursor  # the first poll records what exists
        for label, shorts_link, feed_up in (("feed links /shorts/ (usual)", True, True),
                                            ("feed links /watch", False, True),
                                            ("feed down: uploads playlist", True, False)):
            yt.rss_status = 200 if feed_up else 503
            before, found = yt.units, 0
            for _ in range(polls):
                yt.add_video(duration=30, rss_shorts_link=shorts_link)
                result = await source.list_new(cursor)
                cursor = result.cursor
                found += sum(1 for p in result.posts if p.is_short)
            spent = yt.units - before
            print(f"{label:32} {found} new Shorts in {polls} polls: {spent} units, "
                  f"{spent / max(found, 1):.2f} units per new Short")
        print(f"search.list calls: {sum(1 for _, path in yt.calls if '/search' in path)}")
    finally:
        client.close()
        await yt.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=20)
    asyncio.run(main(parser.parse_args().polls))
