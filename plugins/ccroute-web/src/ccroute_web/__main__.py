"""``python -m ccroute_web hash-secret``: the hash of a password or token for the settings."""

from __future__ import annotations

import getpass
import sys

from ._auth import hash_secret


def main(argv: list[str] | None = None) -> int:
    """Prompt for a secret (twice) and print its hash; ``--stdin`` reads one line instead."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "hash-secret":
        print("usage: python -m ccroute_web hash-secret [--stdin]", file=sys.stderr)
        return 2
    if "--stdin" in args:
        secret = sys.stdin.readline().rstrip("\n")
    else:
        secret = getpass.getpass("secret: ")
        if getpass.getpass("again: ") != secret:
            print("the two do not match", file=sys.stderr)
            return 1
    if not secret:
        print("a secret must not be empty", file=sys.stderr)
        return 1
    print(hash_secret(secret))
    return 0


if __name__ == "__main__":
    sys.exit(main())
