"""The `forwarder` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from core.errors import ConfigError
from core.settings import Settings, load_settings

DESCRIPTION = "Reels ⇄ Shorts forwarder, run from Telegram."


def _secrets(settings: Settings) -> list[str]:
    values = [settings.telegram_bot_token, settings.secret_keys]
    return [v.get_secret_value() for v in values if v is not None]


def _run(coro_factory: Callable[[Settings], Coroutine[Any, Any, int | None]], args: argparse.Namespace
         ) -> int:
    from forwarder.logs import setup_logging

    settings = load_settings()
    setup_logging(args.log_level or settings.log_level, _secrets(settings))
    return asyncio.run(coro_factory(settings)) or 0


async def cmd_up(settings: Settings) -> None:
    settings.require_bot()  # before importing aiogram (seconds): mistakes answer at once
    from forwarder.processes import serve

    await serve(settings, bot=True, worker=True, web_app=True, embedded=True, migrate=True)


async def cmd_bot(settings: Settings) -> None:
    settings.require_bot()
    from forwarder.processes import serve

    await serve(settings, bot=True, worker=False, web_app=False, embedded=False)


async def cmd_worker(settings: Settings) -> None:
    from forwarder.processes import serve

    await serve(settings, bot=False, worker=True, web_app=False, embedded=False)


async def cmd_web(settings: Settings) -> None:
    from forwarder.processes import serve

    await serve(settings, bot=False, worker=False, web_app=True, embedded=False)


async def cmd_migrate(settings: Settings) -> None:
    from core import crypto
    from core.bootstrap import prepare_data_dir
    from core.db import run_migrations

    prepare_data_dir(settings)
    secret = settings.secret_keys.get_secret_value() if settings.secret_keys else None
    _, pending_key_file = crypto.keyring_for(secret, settings.data_dir.resolve())
    await run_migrations(settings.resolved_database_url)
    if pending_key_file is not None:  # only once the database took the schema
        crypto.write_key_file(*pending_key_file)
    print(f"Database is up to date: {_safe_url(settings.resolved_database_url)}")


def _rotate(drop_old: bool) -> Callable[[Settings], Coroutine[Any, Any, None]]:
    async def cmd(settings: Settings) -> None:
        from core import crypto
        from core.bootstrap import prepare_data_dir
        from core.db import close_db, init_db
        from core.services.keys import rotate_keys

        prepare_data_dir(settings)
        secret = settings.secret_keys.get_secret_value() if settings.secret_keys else None
        crypto.install(crypto.load_keyring(secret, settings.data_dir.resolve()))
        await init_db(settings.resolved_database_url)
        try:
            report = await rotate_keys(settings, drop_old=drop_old)
        finally:
            await close_db()
        where = report.key_file or "SECRET_KEYS (its first key)"
        print(f"Re-encrypted {report.values} secret(s) in {report.rows} row(s) with the newest key "
              f"of {where}; {report.keys_kept} key(s) kept.")
        if report.key_file and not drop_old and report.keys_kept > 1:
            print("Old keys are kept so a backup can still be read; "
                  "`forwarder rotate-keys --drop-old` removes them.")
    return cmd


def _check(reach: bool) -> Callable[[Settings], Coroutine[Any, Any, int]]:
    async def cmd(settings: Settings) -> int:
        from forwarder.check import run_check

        return await run_check(settings, reach=reach)
    return cmd


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="forwarder", description=DESCRIPTION)
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="override LOG_LEVEL")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    helps = {
        "up": "bot + worker + web in one process, with the embedded Redis and SQLite defaults "
              "(migrates the database first)",
        "bot": "the Telegram bot only (needs REDIS_URL shared with the workers)",
        "worker": "one ARQ worker (run several for more throughput; needs REDIS_URL)",
        "web": "the web app only: Mini App, JSON API, OAuth callback, /api/health (needs REDIS_URL)",
        "migrate": "create or upgrade the database schema, then exit",
    }
    for name, text in helps.items():
        sub.add_parser(name, help=text, description=text)
    check_text = "check configuration, database, Redis, ffmpeg and the platform base URLs"
    check = sub.add_parser("check", help=check_text, description=check_text)
    check.add_argument("--reach", action="store_true",
                       help="also open a TCP connection to every platform base URL")
    rotate = sub.add_parser(
        "rotate-keys", help="add a new encryption key and re-encrypt every stored secret",
        description="Add a new Fernet key (first in the key file) and re-encrypt every stored "
                    "secret with it. With SECRET_KEYS set, put the new key first in SECRET_KEYS "
                    "yourself, then run this to re-encrypt.")
    rotate.add_argument("--drop-old", action="store_true",
                        help="after re-encrypting, remove the older keys from the key file")
    rotate.add_argument("--print-new-key", action="store_true",
                        help="only print a freshly generated key and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `forwarder` console script."""
    import warnings

    # arq 0.28 closes its pool with redis-py's deprecated close(); nothing for a user to do.
    warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
    args = build_parser().parse_args(argv)
    commands: dict[str, Callable[[Settings], Coroutine[Any, Any, Any]]] = {
        "up": cmd_up, "bot": cmd_bot, "worker": cmd_worker, "web": cmd_web,
        "migrate": cmd_migrate,
    }
    try:
        if args.command == "rotate-keys":
            if args.print_new_key:
                from core.crypto import new_key

                print(new_key())
                return 0
            return _run(_rotate(args.drop_old), args)
        if args.command == "check":
            return _run(_check(args.reach), args)
        return _run(commands[args.command], args)
    except ConfigError as exc:
        print(f"Configuration error — {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
