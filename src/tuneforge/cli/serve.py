"""`tuneforge serve`: an OpenAI-compatible HTTP server for base models and adapters."""

from __future__ import annotations

import sys
from pathlib import Path

NO_AUTH_WARNING = (
    "warning: --no-auth: every request is served as organization 'local'; listen on 127.0.0.1 only"
)


def register(sub) -> None:
    parser = sub.add_parser("serve", help="serve models over an OpenAI-compatible HTTP API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--data-dir",
        default="./tuneforge-data",
        help="API keys and the adapter registry (default ./tuneforge-data)",
    )
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME_OR_PATH",
        help="a base model to serve; repeat for more (default smollm2-135m-instruct)",
    )
    parser.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="NAME=RUN_DIR",
        help="serve a trained run's adapter as model NAME; repeat for more",
    )
    parser.add_argument("--max-loaded-adapters", type=int, default=8)
    parser.add_argument("--max-n", type=int, default=8, help="most choices per request")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto")
    parser.add_argument(
        "--no-auth", action="store_true", help="no API keys: every caller is organization 'local'"
    )
    jobs = parser.add_argument_group("fine-tuning jobs API (files, jobs, events, checkpoints)")
    jobs.add_argument("--no-jobs", action="store_true", help="serve models only")
    jobs.add_argument(
        "--database-url", metavar="URL",
        help="where jobs are kept: sqlite:///PATH or postgresql://USER@HOST/DB for several "
        "servers (default sqlite under --data-dir)",
    )  # fmt: skip
    jobs.add_argument(
        "--max-running-jobs", type=int, default=1, metavar="N",
        help="trainers run at once by this server (default 1)",
    )  # fmt: skip
    jobs.add_argument(
        "--no-worker", action="store_true",
        help="serve the jobs routes but train nothing here (another server's worker does)",
    )  # fmt: skip
    jobs.add_argument(
        "--max-upload-mb", type=int, default=512, metavar="MB",
        help="largest file POST /v1/files accepts (default 512, OpenAI's limit)",
    )  # fmt: skip
    jobs.add_argument(
        "--allow-python-graders", action="store_true",
        help="run `python` graders (user code, in a sandbox without network); off by default",
    )  # fmt: skip
    jobs.add_argument(
        "--score-model-url", metavar="URL",
        help="OpenAI-compatible endpoint ('.../v1') that `score_model` graders call "
        "(default: this server; with API keys on, give --score-model-key too)",
    )  # fmt: skip
    jobs.add_argument("--score-model-key", metavar="KEY", help="API key for --score-model-url")
    parser.set_defaults(run=run)


def parse_adapters(items: list[str]) -> dict[str, str]:
    from tuneforge.errors import TuneForgeError

    adapters: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise TuneForgeError(f"--adapter {item!r}: expected NAME=RUN_DIR")
        if name in adapters:
            raise TuneForgeError(f"--adapter {name!r} is given twice")
        adapters[name] = path
    return adapters


def run(args) -> int:
    import uvicorn

    from tuneforge.serve.app import create_app
    from tuneforge.serve.engine.hf import HFEngine
    from tuneforge.serve.keys import KeyStore
    from tuneforge.serve.settings import ServeSettings

    data_dir = Path(args.data_dir)
    adapters = parse_adapters(args.adapter)
    keys = None
    if args.no_auth:
        print(NO_AUTH_WARNING, file=sys.stderr)
    else:
        keys = KeyStore(data_dir)
        if len(keys) == 0:
            print(
                f"no API keys in {keys.path} yet: create one with "
                f"`tuneforge keys create --org NAME --data-dir {data_dir}`",
                file=sys.stderr,
            )
    engine = HFEngine(
        data_dir=data_dir,
        models=args.models or ["smollm2-135m-instruct"],
        adapters=adapters,
        max_loaded_adapters=args.max_loaded_adapters,
        dtype=args.dtype,
    )
    jobs = None if args.no_jobs else open_jobs(args, engine, data_dir)
    extensions = jobs.app_arguments() if jobs else {}
    app = create_app(engine, keys, ServeSettings(max_n=args.max_n), **extensions)
    print(f"serving on http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def open_jobs(args, engine, data_dir: Path):
    """The jobs API over the engine's model registry, or None (with the reason) when its
    dependencies are not installed."""
    try:
        from tuneforge.jobs.app import JobsAPI
        from tuneforge.jobs.settings import JobsSettings
    except ImportError as exc:
        print(
            f"warning: the fine-tuning jobs API is off ({exc.name} is not installed): "
            "pip install 'tuneforge[jobs]'",
            file=sys.stderr,
        )
        return None
    from tuneforge.graders import GraderSettings

    settings = JobsSettings(
        data_dir=data_dir,
        max_upload_bytes=args.max_upload_mb * 1024 * 1024,
        database_url=args.database_url,
        max_running_jobs=args.max_running_jobs,
    )
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    host = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
    graders = GraderSettings(
        allow_python=args.allow_python_graders,
        score_model_base_url=args.score_model_url or f"http://{host}:{args.port}/v1",
        score_model_api_key=args.score_model_key,
    )
    return JobsAPI.open(engine, engine.registry, settings, graders, run_worker=not args.no_worker)
