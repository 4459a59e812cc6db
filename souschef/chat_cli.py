"""``souschef chat`` and ``souschef feedback export|stats``: thin adapters over ``chat``.

They live in ``souschef`` (the shells), not in ``chat``: the app package imports nothing of the
CLI, so no package imports the one that imports it.

``add_commands(sub, formatter_class)`` registers them on the ``souschef`` parser. Each
command returns an exit code and raises ``recipe_schema`` errors for bad input; only
argparse and the standard library are imported until a command runs.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

# one range per setting, the one a saved state is held to
from .flags import add_weights_flag, positive_int, setting

DEFAULT_DB = "souschef-feedback.db"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535, not {value}")
    return value


def cmd_chat(args: argparse.Namespace) -> int:
    from generation import RecipeGenerator
    from generation.generator import DEFAULT_BATCH
    from souschef.chat.app import check_address, import_gradio, serve
    from souschef.chat.feedback import FeedbackStore
    from souschef.chat.service import ChatService

    import_gradio()  # a missing extra, a taken port or a corrupt database fail before the model loads
    check_address(args.host, args.port)
    store = FeedbackStore(args.feedback_db)
    print(f"loading {args.model or 'the assistant souschef ships'}", file=sys.stderr, flush=True)
    generator = RecipeGenerator.from_pretrained(args.model, weights=args.weights)
    service = ChatService(generator, store, max_total_tokens=args.max_total_tokens, mode=args.mode,
                          batch_size=args.batch_size or DEFAULT_BATCH)

    def ready() -> None:
        print(f"souschef chat on http://{args.host}:{args.port} (feedback: {args.feedback_db}); "
              "Ctrl-C stops it", file=sys.stderr, flush=True)

    try:
        serve(service, args.host, args.port, on_ready=ready)
    finally:
        service.close()
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from souschef.chat.feedback import export_feedback

    summary = export_feedback(args.db, args.out, args.rejected)
    for problem in summary.invalid:
        print(f"souschef: skipped {args.db}: {problem}", file=sys.stderr)
    print(f"wrote {summary.liked_path} ({summary.liked} liked, {summary.duplicates} duplicates left out) "
          f"and {summary.rejected_path} ({summary.rejected} disliked)", file=sys.stderr)
    return 0


def cmd_feedback_stats(args: argparse.Namespace) -> int:
    from souschef.chat.feedback import feedback_stats

    stats: dict[str, Any] = feedback_stats(args.db)
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
        return 0
    liked = f"{stats['liked']} ({stats['liked_recipes']} recipes, {stats['liked_replies']} replies)"
    rows = [("events", stats["events"]), ("answers rated", stats["answers"]), ("liked", liked),
            ("disliked", stats["disliked"]), ("cleared", stats["cleared"]),
            ("with a comment", stats["with_comment"]),
            ("first / last", f"{stats['first_event'] or '-'} / {stats['last_event'] or '-'}")]
    for model, counts in stats["models"].items():
        rows.append((f"model {model}", f"{counts['liked']} liked, {counts['disliked']} disliked"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    return 0


def add_commands(sub: Any, formatter_class: type[argparse.HelpFormatter]) -> None:
    """Register ``chat`` and ``feedback`` (``export``, ``stats``) on the subparsers ``sub``."""
    p = sub.add_parser(
        "chat",
        help="chat with a model in the browser; rate answers to collect training data",
        description=(
            "A chat app (Gradio) over a model: answers stream as they are written, recipes show\n"
            "rendered (scalable, downloadable as JSON), replies as plain text. Each answer can be\n"
            "liked or disliked, with a comment; ratings go to a SQLite file for\n"
            "`souschef feedback export`. Serves on 127.0.0.1 only unless --host says otherwise;\n"
            "analytics are off. Needs the ui extra: pip install 'souschef[ui]'."
        ),
        epilog=(
            "examples:\n  souschef chat\n  souschef chat --model runs/tiny\n"
            "  souschef chat --model runs/mine --port 8080 --feedback-db feedback.db\n"
            "  souschef chat --batch-size 16"
        ),
        formatter_class=formatter_class,
    )
    p.add_argument("--model", metavar="MODEL",
                   help="a model or LoRA adapter directory (souschef train --out), a base name, a .gguf file "
                        "or a hub id; default: the assistant souschef ships")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default 127.0.0.1: this machine only; 0.0.0.0: everyone)")
    p.add_argument("--port", type=_port, default=7860, help="port (default 7860)")
    p.add_argument("--feedback-db", default=DEFAULT_DB, metavar="PATH",
                   help=f"SQLite file for ratings, created if missing (default {DEFAULT_DB})")
    p.add_argument("--max-total-tokens", type=setting("max_total_tokens"), metavar="N",
                   help="each answer closes within N tokens (default 2048)")
    p.add_argument("--mode", choices=["any", "recipe", "reply"],
                   help="force one kind of answer (default: the model and its domain guard decide)")
    p.add_argument("--batch-size", type=positive_int, metavar="B",
                   help="answers of concurrent users decoded together, one forward pass per step for all "
                        "(default 8; 1: one at a time)")
    add_weights_flag(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser(
        "feedback",
        help="export or count the ratings collected by souschef chat",
        description="Turn the ratings `souschef chat` collected into training data, or count them.",
        epilog=(
            "examples:\n  souschef feedback stats --db souschef-feedback.db\n"
            "  souschef feedback export --db souschef-feedback.db --out liked.jsonl\n"
            "  souschef train --data liked.jsonl --lora --out runs/liked"
        ),
        formatter_class=formatter_class,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True
    e = actions.add_parser(
        "export",
        help="liked answers as training exchanges, disliked ones for review",
        description=(
            "Write liked answers as training exchanges ({\"prompt\", \"answer\"} per line, what\n"
            "`souschef train --data` reads) and disliked ones, with their comments, to a second\n"
            "file for review. The latest rating of each answer decides. Both writes are atomic."
        ),
        epilog="example:\n  souschef feedback export --db souschef-feedback.db --out liked.jsonl",
        formatter_class=formatter_class,
    )
    e.add_argument("--db", required=True, metavar="PATH", help="the feedback database")
    e.add_argument("--out", required=True, metavar="FILE", help="liked answers (.jsonl)")
    e.add_argument("--rejected", metavar="FILE",
                   help="disliked answers (default: next to OUT, liked.jsonl -> liked.rejected.jsonl)")
    e.set_defaults(func=cmd_feedback_export)
    s = actions.add_parser(
        "stats",
        help="count events, likes and dislikes",
        description="Count the ratings in a feedback database (the latest rating of each answer).",
        epilog="example:\n  souschef feedback stats --db souschef-feedback.db --json",
        formatter_class=formatter_class,
    )
    s.add_argument("--db", required=True, metavar="PATH", help="the feedback database")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_feedback_stats)
