"""`tuneforge chat [--model M] [--adapter RUN]`: an interactive conversation."""

from __future__ import annotations

from tuneforge.cli.generate import add_model_arguments


def register(sub) -> None:
    parser = sub.add_parser("chat", help="talk to a model (type /reset to clear, /exit to quit)")
    add_model_arguments(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from tuneforge.models.inference import generate_replies, load_for_inference

    model, tokenizer = load_for_inference(args.model, args.adapter)
    start = [{"role": "system", "content": args.system}] if args.system else []
    history = list(start)
    print("chat: /reset clears the conversation, /exit or Ctrl-D quits")
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if text in ("/exit", "/quit"):
            return 0
        if text == "/reset":
            history = list(start)
            continue
        if not text:
            continue
        history.append({"role": "user", "content": text})
        (reply,) = generate_replies(
            model, tokenizer, [history], args.max_new_tokens, args.temperature
        )
        history.append({"role": "assistant", "content": reply})
        print(f"assistant> {reply}")
