"""The web app with a seeded database, run as its own process for tests/webapp/test_fuzz.py.

Every external endpoint points at a dead loopback port, so whatever a fuzzed request asks
for, nothing leaves the machine. Prints one JSON line (base URL, Authorization header).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiohttp import web  # noqa: E402

from core.bootstrap import open_runtime  # noqa: E402
from core.models import (  # noqa: E402
    Account,
    AuthMethod,
    Connection,
    Direction,
    Job,
    JobStatus,
    Platform,
    Proxy,
    ProxyType,
    SourcePost,
)
from core.redis_embedded import free_port  # noqa: E402
from core.settings import Settings  # noqa: E402
from jobs.queue import ArqQueue  # noqa: E402
from tests.webapp.conftest import BOT_TOKEN, init_data  # noqa: E402
from webapp.app import create_app  # noqa: E402

DEAD = "http://127.0.0.1:9"


async def main() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=Path(tempfile.mkdtemp(prefix="fuzz-")), telegram_bot_token=BOT_TOKEN,
        admin_ids=[1001], telegram_api_base=DEAD, youtube_api_base=DEAD + "/", google_auth_uri=DEAD + "/a",
        google_token_uri=DEAD + "/t", youtube_web_base=DEAD, instagram_api_base=DEAD, graph_api_base=DEAD,
        graph_upload_base=DEAD, instagram_graph_api_base=DEAD, proxy_check_urls=[DEAD], public_base_url="https://forwarder.example")
    runtime = await open_runtime(settings, migrate=True, queue_factory=ArqQueue)
    src = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.PRIVATE_API)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    conn = await Connection.create(name="c1", direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=src,
                                   destination_account=dst)
    post = await SourcePost.create(connection=conn, source_post_id="p1")
    await Job.create(connection=conn, source_post=post, status=JobStatus.FAILED, dead_letter=True)
    await Proxy.create(alias="p1", type=ProxyType.HTTP, host="127.0.0.1", port=9)
    runner = web.AppRunner(create_app(runtime), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(json.dumps({"base": f"http://127.0.0.1:{port}", "auth": "tma " + init_data(1001)}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
