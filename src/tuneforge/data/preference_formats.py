"""Preference and feedback record shapes, converted to one canonical form.

Preference tools disagree on how a pair is written down; each converter here turns its
shape into `{"prompt": [messages], "chosen": [messages], "rejected": [messages]}` (or a
list of them, for ranked replies), and unpaired feedback (KTO) into
`{"prompt": [...], "completion": [...], "label": bool}`. `records.parse_records` then
validates the messages like any OpenAI chat. Errors name the field the user wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import combinations
from typing import Any

from tuneforge.data.formats import message, required_text, sharegpt, sharegpt_messages, system_turn
from tuneforge.errors import DataError

Canonical = dict[str, Any]
RANKED_LISTS = ("completions", "responses")
RANKED_TEXT_KEYS = ("text", "content", "response", "completion", "output")
# A speaker starts a turn only at the start or after a blank line, so "Human:" quoted
# inside a turn stays text.
_HH_TURN = re.compile(r"(?:\A\n*|\n\n)(Human|Assistant):[ \t]?")


def detect_pair_format(obj: dict[str, Any]) -> str | None:
    """The name of a preference format by its keys, or None."""
    if "preferred_output" in obj or "non_preferred_output" in obj:
        return "openai_dpo"
    if "response_j" in obj or "response_k" in obj:
        return "stack_exchange"
    if "chosen" in obj or "rejected" in obj:
        if "conversations" in obj:
            return "sharegpt_pairs"
        if "prompt" not in obj and _is_hh(obj.get("chosen")):
            return "anthropic_hh"
        return "prompt_chosen_rejected"
    if "prompt" in obj and any(key in obj for key in RANKED_LISTS):
        return "ranked"
    return None


def prompt_chosen_rejected(obj: dict, path: str, line: int) -> Canonical:
    """TRL's explicit form (strings or message lists) and its implicit form, where
    `chosen` and `rejected` are whole conversations sharing the prompt as a prefix."""
    for key in ("chosen", "rejected"):
        if key not in obj:
            raise DataError(path, line, key, "missing (a preference pair needs both replies)")
    if "prompt" not in obj:
        chosen = _conversation(obj["chosen"], path, line, "chosen")
        rejected = _conversation(obj["rejected"], path, line, "rejected")
        return _split_shared_prefix(chosen, rejected, path, line)
    pair = {
        "prompt": system_turn(obj, path, line) + _prompt(obj["prompt"], path, line, "prompt"),
        "chosen": _reply(obj["chosen"], path, line, "chosen"),
        "rejected": _reply(obj["rejected"], path, line, "rejected"),
    }
    pair.update({key: obj[key] for key in ("margin", "tools") if obj.get(key) is not None})
    return pair


def openai_dpo(obj: dict, path: str, line: int) -> Canonical:
    """OpenAI preference fine-tuning: input.messages, preferred/non_preferred_output."""
    source = obj.get("input")
    if not isinstance(source, dict) or "messages" not in source:
        raise DataError(path, line, "input.messages", "missing (expected input: {messages: [...]})")
    pair = {
        "prompt": _message_list(source["messages"], path, line, "input.messages"),
        "chosen": _message_list(obj.get("preferred_output"), path, line, "preferred_output"),
        "rejected": _message_list(
            obj.get("non_preferred_output"), path, line, "non_preferred_output"
        ),
    }
    if "tools" in source:
        pair["tools"] = source["tools"]
    return pair


def sharegpt_pairs(obj: dict, path: str, line: int) -> Canonical:
    """LLaMA-Factory: ShareGPT `conversations` as the prompt, `chosen`/`rejected` turns."""
    return {
        "prompt": sharegpt(obj, path, line),
        "chosen": _sharegpt_reply(obj, "chosen", path, line),
        "rejected": _sharegpt_reply(obj, "rejected", path, line),
        **({"tools": obj["tools"]} if obj.get("tools") is not None else {}),
    }


def anthropic_hh(obj: dict, path: str, line: int) -> Canonical:
    """Anthropic HH-RLHF: two full "\\n\\nHuman: ... \\n\\nAssistant: ..." transcripts that
    share every turn up to the last assistant reply."""
    chosen = _hh_messages(required_text(obj, "chosen", path, line), path, line, "chosen")
    rejected = _hh_messages(required_text(obj, "rejected", path, line), path, line, "rejected")
    return _split_shared_prefix(chosen, rejected, path, line)


def stack_exchange(obj: dict, path: str, line: int) -> Canonical:
    """StackExchange paired answers: `response_j` is the preferred answer to `question`."""
    return {
        "prompt": [message("user", required_text(obj, "question", path, line))],
        "chosen": [message("assistant", required_text(obj, "response_j", path, line))],
        "rejected": [message("assistant", required_text(obj, "response_k", path, line))],
    }


def ranked(obj: dict, path: str, line: int) -> list[Canonical]:
    """Several replies with a `rank` (1 is best) or a `score` (higher is better), expanded
    into every strictly ordered pair; score differences become the pair's margin."""
    key = next(k for k in RANKED_LISTS if k in obj)
    replies = _ranked_replies(obj, key, path, line)
    prompt = system_turn(obj, path, line) + _prompt(obj["prompt"], path, line, "prompt")
    pairs = []
    for (text_a, better_a, score_a), (text_b, better_b, score_b) in combinations(replies, 2):
        if better_a == better_b:
            continue  # a tie says nothing about which reply to prefer
        if better_a < better_b:
            (text_a, score_a), (text_b, score_b) = (text_b, score_b), (text_a, score_a)
        pair: Canonical = {
            "prompt": prompt,
            "chosen": [message("assistant", text_a)],
            "rejected": [message("assistant", text_b)],
        }
        if score_a is not None and score_b is not None:
            pair["margin"] = float(score_a - score_b)
        pairs.append(pair)
    if not pairs:
        raise DataError(path, line, key, "no two replies are ranked differently, so no pair")
    return pairs


def feedback(obj: dict, path: str, line: int) -> Canonical:
    """KTO: `prompt`/`completion`/`label`, or `messages` whose trailing assistant turns
    are the completion and `label` says whether it is desirable."""
    label = obj["label"]
    if isinstance(label, bool) or label in (0, 1):
        label = bool(label)
    else:
        raise DataError(path, line, "label", f"expected true or false, got {label!r}")
    if "messages" in obj:
        messages = _message_list(obj["messages"], path, line, "messages")
        cut = len(messages)
        while cut > 0 and messages[cut - 1].get("role") == "assistant":
            cut -= 1
        if cut == len(messages):
            raise DataError(path, line, "messages", "no assistant reply at the end to label")
        return {"prompt": messages[:cut], "completion": messages[cut:], "label": label}
    for key in ("prompt", "completion"):
        if key not in obj:
            raise DataError(path, line, key, "missing (a labelled record needs both)")
    return {
        "prompt": system_turn(obj, path, line) + _prompt(obj["prompt"], path, line, "prompt"),
        "completion": _reply(obj["completion"], path, line, "completion"),
        "label": label,
    }


PAIR_FORMATS: dict[str, Callable[[dict, str, int], Canonical | list[Canonical]]] = {
    "prompt_chosen_rejected": prompt_chosen_rejected,
    "openai_dpo": openai_dpo,
    "sharegpt_pairs": sharegpt_pairs,
    "anthropic_hh": anthropic_hh,
    "stack_exchange": stack_exchange,
    "ranked": ranked,
}


def _split_shared_prefix(chosen: list[dict], rejected: list[dict], path, line) -> Canonical:
    """Prompt = the turns both conversations share, ending before the replies' first
    assistant turn (a shared assistant turn right before the split belongs to the replies)."""
    shared = 0
    while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
        shared += 1
    while shared > 0 and chosen[shared - 1].get("role") == "assistant":
        shared -= 1
    if shared == 0:
        raise DataError(
            path, line, "chosen",
            "chosen and rejected share no prompt; give 'prompt' explicitly or start both "
            "with the same user turn",
        )  # fmt: skip
    return {"prompt": chosen[:shared], "chosen": chosen[shared:], "rejected": rejected[shared:]}


def _is_hh(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip("\n").startswith("Human:")


def _hh_messages(text: str, path: str, line: int, key: str) -> list[dict]:
    parts = _HH_TURN.split(text)
    if parts[0].strip() or len(parts) < 3:
        raise DataError(path, line, key, 'expected a transcript starting with "\\n\\nHuman:"')
    speakers = parts[1::2]
    texts = [t.strip() for t in parts[2::2]]
    roles = {"Human": "user", "Assistant": "assistant"}
    return [message(roles[s], t) for s, t in zip(speakers, texts, strict=True)]


def _conversation(value: Any, path: str, line: int, key: str) -> list[dict]:
    if _is_hh(value):
        return _hh_messages(value, path, line, key)
    return _message_list(value, path, line, key)


def _prompt(value: Any, path: str, line: int, key: str) -> list[dict]:
    if isinstance(value, str):
        if _is_hh(value):
            return _hh_messages(value.rstrip().removesuffix("Assistant:"), path, line, key)
        return [message("user", value)]
    return _message_list(value, path, line, key)


def _reply(value: Any, path: str, line: int, key: str) -> list[dict]:
    if isinstance(value, str):
        return [message("assistant", value)]
    if isinstance(value, dict):
        return [value]
    return _message_list(value, path, line, key)


def _sharegpt_reply(obj: dict, key: str, path: str, line: int) -> list[dict]:
    value = obj.get(key)
    if value is None:
        raise DataError(path, line, key, "missing (a preference pair needs both replies)")
    if isinstance(value, str):
        return [message("assistant", value)]
    bare = isinstance(value, dict)
    if not (bare or isinstance(value, list)):
        raise DataError(path, line, key, "expected a {from, value} turn or a list of them")
    # The reply's calls get ids of their own, apart from the prompt's.
    return sharegpt_messages([value] if bare else value, path, line, key, f"{key}_call_", bare)


def _ranked_replies(obj: dict, key: str, path: str, line: int) -> list[tuple[str, float, Any]]:
    """(text, goodness, score or None) per reply; goodness is higher for better replies."""
    items = obj[key]
    if not isinstance(items, list) or len(items) < 2:
        raise DataError(path, line, key, "expected a list of at least two replies")
    scores = obj.get("scores")
    ranks = obj.get("ranks")
    replies = []
    for i, item in enumerate(items):
        where = f"{key}[{i}]"
        if isinstance(item, str):
            text, rank, score = item, _at(ranks, i), _at(scores, i)
        elif isinstance(item, dict):
            text_key = next((k for k in RANKED_TEXT_KEYS if k in item), None)
            if text_key is None:
                raise DataError(path, line, where, f"expected one of {RANKED_TEXT_KEYS}")
            text = required_text(item, text_key, path, line, where)
            rank, score = item.get("rank"), item.get("score")
        else:
            raise DataError(path, line, where, "expected a string or an object")
        if score is not None and isinstance(score, (int, float)):
            replies.append((text, float(score), score))
        elif rank is not None and isinstance(rank, (int, float)):
            replies.append((text, -float(rank), None))
        else:
            raise DataError(
                path,
                line,
                where,
                "expected a numeric 'rank' (1 is best) or 'score' (higher is better)",
            )
    return replies


def _at(values: Any, i: int) -> Any:
    return values[i] if isinstance(values, list) and i < len(values) else None


def _message_list(value: Any, path: str, line: int, key: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise DataError(path, line, key, "expected a non-empty list of messages")
    return value
