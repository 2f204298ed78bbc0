"""Render a tokenized example with its loss mask visible, for `tuneforge data inspect`."""

from __future__ import annotations

from rich.text import Text

from tuneforge.data.templating import IGNORE, TokenizedExample

TRAINED_STYLE = "reverse green"


def render_mask(example: TokenizedExample, tokenizer) -> Text:
    """The example's text, token by token, trained tokens highlighted. Targets are shifted
    (targets[t] predicts input_ids[t + 1]), so token t+1 is trained when targets[t] is set."""
    trained = [False] + [t != IGNORE for t in example.targets[:-1]]
    text = Text()
    for token_id, is_trained in zip(example.input_ids, trained, strict=True):
        piece = tokenizer.decode([token_id])
        text.append(piece, style=TRAINED_STYLE if is_trained else "dim")
    return text
