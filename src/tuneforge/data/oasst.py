"""OpenAssistant message trees (oasst1/oasst2 `*.trees.jsonl` exports) as examples.

A tree is `{"message_tree_id", "prompt": message}`; a message is `{"text", "role":
"prompter" | "assistant", "rank", "replies": [message, ...]}`, where `rank` orders
siblings by preference, 0 the best, and is null where there was nothing to rank.

- sft: one conversation per tree, the best-ranked path: from the prompt, at each turn
  the reply ranked best (the first reply where none is ranked), down to a leaf, ending
  with its last assistant turn. Not every root-to-leaf path: a tree with k leaves would
  repeat its opening turns k times, training them k times over and filling the splits
  with near-copies that dedup then removes. The branches left out are what the
  preference kind learns from.
- preference: every two sibling assistant replies ranked differently, after the
  conversation that led to them (the ranked-replies format, preference_formats.ranked).
- kto: per group of ranked siblings, the best reply is desirable and the worst is not.
  A reply ranked in between is better than one sibling and worse than another, so either
  label would contradict the ranking.
- prompts: the tree's first message.

Messages deleted or failed in review (`deleted: true`, `review_result: false`: spam)
are left out, with their replies. Errors name the field in the tree,
`prompt.replies[1].text`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tuneforge.data.formats import message, required_text
from tuneforge.data.prompts import PromptExample, parse_prompt
from tuneforge.data.records import Example, parse_records
from tuneforge.errors import DataError

ROLES = {"prompter": "user", "assistant": "assistant"}
FLAT_MESSAGE_KEYS = {"message_id", "parent_id", "role", "text"}
Node = tuple[str, dict]
"""(field path in the tree, message)."""


def claims(obj: Any) -> bool:
    """Whether the record is OpenAssistant's: a message tree, or one flat message."""
    return isinstance(obj, dict) and ("message_tree_id" in obj or obj.keys() >= FLAT_MESSAGE_KEYS)


def tree_examples(
    obj: dict, kind: str | None, where: str, line: int | None
) -> list[Example] | list[PromptExample]:
    """The examples of one tree as `kind` (sft when None), or a DataError naming the
    field of the tree that is wrong."""
    if "message_tree_id" not in obj:
        raise DataError(
            where, line, None,
            "one OpenAssistant message, not a tree: read the *.trees.jsonl export, whose "
            "records are whole conversations",
        )  # fmt: skip
    root = obj.get("prompt")
    if not isinstance(root, dict):
        raise DataError(where, line, "prompt", "missing: a tree starts with its prompt message")
    _message(("prompt", root), where, line)
    if root.get("role") != "prompter":
        raise DataError(
            where, line, "prompt.role",
            f"the tree's first message is the user's, 'prompter'; got {root.get('role')!r}",
        )  # fmt: skip
    _check_tree(root, where, line)  # every branch, whichever the kind reads
    return KINDS[kind or "sft"](root, where, line)


def _sft(root: dict, where: str, line: int | None) -> list[Example]:
    messages: list[dict[str, str]] = []
    node: Node | None = ("prompt", root)
    while node is not None:
        messages.append(_message(node, where, line))
        node = _best(_replies(node, where, line), where, line)
    while messages and messages[-1]["role"] != "assistant":
        messages.pop()
    if not messages:
        raise DataError(where, line, "prompt.replies", "no assistant reply to learn from")
    return parse_records({"messages": messages}, where, line)


def _preference(root: dict, where: str, line: int | None) -> list[Example]:
    pairs = []
    for context, ranked in _ranked_groups(root, where, line):
        replies = [{"text": child["text"], "rank": child["rank"]} for _, child in ranked]
        pairs += parse_records({"prompt": context, "completions": replies}, where, line)
    if not pairs:
        raise DataError(
            where, line, "prompt.replies",
            "no two sibling replies are ranked differently, so the tree holds no pair",
        )  # fmt: skip
    return pairs


def _kto(root: dict, where: str, line: int | None) -> list[Example]:
    examples = []
    for context, ranked in _ranked_groups(root, where, line):
        by_rank = sorted(ranked, key=lambda node: node[1]["rank"])
        for (_, child), desirable in ((by_rank[0], True), (by_rank[-1], False)):
            reply = [message("assistant", child["text"])]
            record = {"prompt": context, "completion": reply, "label": desirable}
            examples += parse_records(record, where, line)
    if not examples:
        raise DataError(
            where, line, "prompt.replies",
            "no two sibling replies are ranked differently, so no reply is labelled",
        )  # fmt: skip
    return examples


def _prompts(root: dict, where: str, line: int | None) -> list[PromptExample]:
    return [parse_prompt({"prompt": root["text"]}, where, line)]


KINDS: dict[str, Callable[[dict, str, int | None], list]] = {
    "sft": _sft,
    "preference": _preference,
    "kto": _kto,
    "prompts": _prompts,
}


def _ranked_groups(root: dict, where: str, line: int | None) -> Iterator[tuple[list, list]]:
    """(conversation so far, sibling assistant replies) for every message whose
    assistant replies hold at least two different ranks."""
    stack: list[tuple[Node, list[dict]]] = [(("prompt", root), [])]
    while stack:
        node, before = stack.pop()
        context = before + [_message(node, where, line)]
        replies = _replies(node, where, line)
        ranked = [
            r for r in replies if r[1]["role"] == "assistant" and _rank(r, where, line) is not None
        ]
        if len({child["rank"] for _, child in ranked}) > 1:
            yield context, ranked
        stack += [(reply, context) for reply in reversed(replies)]


def _check_tree(root: dict, where: str, line: int | None) -> None:
    stack = [("prompt", root)]
    while stack:
        replies = _replies(stack.pop(), where, line)
        for reply in replies:
            _rank(reply, where, line)
        stack += reversed(replies)


def _replies(node: Node, where: str, line: int | None) -> list[Node]:
    """The replies kept (not deleted, not spam), each checked."""
    field, value = node
    replies = value.get("replies") or []
    if not isinstance(replies, list):
        raise DataError(where, line, f"{field}.replies", "expected a list of messages")
    kept = []
    for i, reply in enumerate(replies):
        child = (f"{field}.replies[{i}]", reply)
        if not isinstance(reply, dict):
            raise DataError(
                where, line, child[0], f"expected a message, got {type(reply).__name__}"
            )
        if reply.get("deleted") is True or reply.get("review_result") is False:
            continue
        _message(child, where, line)
        kept.append(child)
    return kept


def _best(replies: list[Node], where: str, line: int | None) -> Node | None:
    ranked = [reply for reply in replies if _rank(reply, where, line) is not None]
    if ranked:
        return min(ranked, key=lambda reply: reply[1]["rank"])
    return replies[0] if replies else None


def _rank(node: Node, where: str, line: int | None) -> int | None:
    field, value = node
    rank = value.get("rank")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int)):
        raise DataError(
            where, line, f"{field}.rank", f"expected an integer (0 is best), got {rank!r}"
        )
    return rank


def _message(node: Node, where: str, line: int | None) -> dict[str, str]:
    field, value = node
    role = value.get("role")
    if role not in ROLES:
        raise DataError(
            where, line, f"{field}.role", f"expected 'prompter' or 'assistant', got {role!r}"
        )
    return message(ROLES[role], required_text(value, "text", where, line, field))
