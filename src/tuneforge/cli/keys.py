"""`tuneforge keys create --org NAME`: a new API key for `tuneforge serve`."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser("keys", help="API keys of `tuneforge serve`")
    actions = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key; it is shown once, never stored")
    create.add_argument(
        "--org", required=True, help="organization of the key ('admin' may load adapters)"
    )
    create.add_argument("--data-dir", default="./tuneforge-data")
    create.set_defaults(run=run_create)


def run_create(args) -> int:
    from tuneforge.errors import TuneForgeError
    from tuneforge.serve.keys import KeyStore

    if not args.org.strip():
        raise TuneForgeError("--org must not be empty")
    store = KeyStore(Path(args.data_dir))
    key = store.create(args.org)
    print(
        f"created a key for organization {args.org!r} (its hash is in {store.path}; "
        "the key is shown only now):"
    )
    print(key)  # the last line, so scripts can take it with `tail -n 1`
    return 0
