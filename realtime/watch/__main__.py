"""Command line of the watch client: ``python -m realtime.watch --help``."""

import argparse
import asyncio
import getpass
import os
import sys

from .display import Bars, JsonLines
from .http import Api
from .tracker import EXIT_INTERRUPTED
from .watcher import Options, Watcher

EPILOG = """\
exit status:
  0    every watched analysis ended well: completed (or cancelled without a failure)
  1    at least one failed for good (failed with retry_count == max_retries) or was
       cancelled after a failure
  2    refused: bad credentials, a token that cannot be renewed, an analysis that
       does not exist or is not visible to you
  3    the server stayed unreachable for --give-up seconds, or closed for good
  130  interrupted (Ctrl-C)

Without --analysis it follows every unfinished analysis you may read, and new ones as they
are created; it exits when all are over, unless --follow keeps it running.
"""


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m realtime.watch",
        description="Follow SecureAI analyses live.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--url", default=os.environ.get("SECUREAI_URL", "http://127.0.0.1:8000"), help="the server (%(default)s)"
    )
    parser.add_argument("--user", default=os.environ.get("SECUREAI_USER"), help="username (for a token)")
    parser.add_argument("--password", default=os.environ.get("SECUREAI_PASSWORD"), help="asked for if omitted")
    parser.add_argument("--token", help="an access token to use instead of logging in (cannot be renewed)")
    parser.add_argument("--analysis", metavar="ID", help="watch this analysis only")
    parser.add_argument("--follow", action="store_true", help="keep watching for new analyses; never exit")
    parser.add_argument("--json", action="store_true", help="print each event as one JSON line")
    parser.add_argument(
        "--give-up", type=float, default=300.0, metavar="SECONDS", help="stop when unreachable this long (%(default)s)"
    )
    args = parser.parse_args(argv)
    if not args.token and not args.user:
        parser.error("give --user (and --password) or --token")
    if args.user and not args.password and not args.token:
        args.password = getpass.getpass(f"Password for {args.user}: ")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    api = Api(args.url.rstrip("/"), username=args.user, password=args.password, access=args.token)
    display = JsonLines() if args.json else Bars()
    watcher = Watcher(api, display, Options(analysis_id=args.analysis, follow=args.follow, give_up_after=args.give_up))
    try:
        return asyncio.run(watcher.run())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        display.close(list(watcher.tracks.values()))


if __name__ == "__main__":
    sys.exit(main())
