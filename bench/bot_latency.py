"""Bot handler latency at a steady update rate against the fake Bot API.

The real dispatcher polls the fake Bot API (tests/fakes/telegram.py) on 127.0.0.1 with an
embedded Redis and a fresh SQLite database holding 20 connections and 200 jobs. Button
presses (the Jobs area, which queries the database and edits the message) arrive at
``--rate`` per second for ``--seconds``; each press's latency is the time from the update
being queued to the bot's ``answerCallbackQuery`` for it reaching the fake. Prints
p50/p95/max. Asserts nothing.

    .venv/bin/python bench/bot_latency.py --rate 20 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import create_bot, create_dispatcher  # noqa: E402
from bot.callbacks import Area, MenuCB  # noqa: E402
from core.bootstrap import open_runtime  # noqa: E402
from core.models import (  # noqa: E402
    Account,
    AuthMethod,
    Connection,
    Direction,
    Job,
    JobStatus,
    Platform,
    SourcePost,
)
from core.settings import Settings  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

ADMIN = 1001


async def seed() -> None:
    src = await Account.create(platform=Platform.INSTAGRAM, alias="insta",
                               auth_method=AuthMethod.PRIVATE_API)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    for i in range(20):
        conn = await Connection.create(name=f"connection {i}", direction=Direction.INSTAGRAM_TO_YOUTUBE,
                                       source_account=src, destination_account=dst)
        for j in range(10):
            post = await SourcePost.create(connection=conn, source_post_id=f"{i}-{j}")
            await Job.create(connection=conn, source_post=post,
                             status=JobStatus.RUNNING if j == 0 else JobStatus.SUCCESS)


async def main(rate: float, seconds: float) -> None:
    logging.basicConfig(level=logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    async with FakeTelegram() as tg:
        tg.long_poll_cap = 0.05
        settings = Settings(_env_file=None, data_dir=folder / "data",  # type: ignore[call-arg]
                            telegram_bot_token=tg.token, admin_ids=[ADMIN], telegram_api_base=tg.base_url)
        runtime = await open_runtime(settings, migrate=True)
        await seed()
        bot = create_bot(settings)
        dp = create_dispatcher(runtime)
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
        await tg.wait_for("getUpdates")
        tg.send_message(ADMIN, "/menu")
        menu = (await tg.wait_for("sendMessage")).result
        seen: dict[str, float] = {}
        sent: dict[str, float] = {}

        async def watch() -> None:
            index = 0
            while True:
                for call in tg.calls[index:]:
                    if call.method == "answerCallbackQuery":
                        seen.setdefault(str(call.params["callback_query_id"]), time.perf_counter())
                index = len(tg.calls)
                await asyncio.sleep(0.001)

        watcher = asyncio.create_task(watch())
        data = MenuCB(area=Area.JOBS).pack()
        total = int(rate * seconds)
        start = time.perf_counter()
        for i in range(total):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            update = tg.press_button(ADMIN, menu["message_id"], data, strict=False)
            sent[str(update["callback_query"]["id"])] = time.perf_counter()
        deadline = time.perf_counter() + 30
        while len(seen) < total and time.perf_counter() < deadline:  # noqa: ASYNC110 - a bench's wait
            await asyncio.sleep(0.01)
        watcher.cancel()
        logging.getLogger("aiogram").setLevel(logging.CRITICAL)  # the last long poll is cut on shutdown
        with contextlib.suppress(RuntimeError):
            await dp.stop_polling()
        await asyncio.wait_for(polling, 10)
        await bot.session.close()
        await runtime.close()
        latencies = sorted((seen[k] - sent[k]) * 1000 for k in sent if k in seen)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else float("nan")
        print(f"updates                {total} button presses at {rate:g}/s over {seconds:g} s "
              f"(answered: {len(latencies)})")
        if latencies:
            print(f"handler latency        p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
                  f"max {latencies[-1]:.1f} ms (update queued -> answerCallbackQuery at the fake)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds))
