"""`tuneforge generate --model M [--adapter RUN] --prompt "..."`."""

from __future__ import annotations


def add_model_arguments(parser) -> None:
    parser.add_argument(
        "--model", help="alias, local folder or hub id (default: the run's base model)"
    )
    parser.add_argument(
        "--adapter", help="run directory, adapter folder, or full fine-tuned model folder"
    )
    parser.add_argument("--system", help="system message")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 means greedy")


def register(sub) -> None:
    parser = sub.add_parser("generate", help="reply to one prompt with the chat template")
    add_model_arguments(parser)
    parser.add_argument("--prompt", required=True)
    parser.set_defaults(run=run)


def run(args) -> int:
    from tuneforge.models.inference import generate_replies, load_for_inference

    model, tokenizer = load_for_inference(args.model, args.adapter)
    conversation = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": args.prompt}
    ]
    (reply,) = generate_replies(
        model, tokenizer, [conversation], args.max_new_tokens, args.temperature
    )
    print(reply)
    return 0
