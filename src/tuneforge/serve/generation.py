"""Engine tokens -> text pieces per choice: incremental decoding, stop strings, logprobs.

Both chat and completions consume these pieces; they differ only in the JSON they wrap
them in. Each choice decodes its whole id list after every token and shows the new
suffix, so a character split across tokens comes out whole.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from tuneforge.serve.engine.base import Engine, GenerationRequest, TopLogprob
from tuneforge.serve.stops import StopMatcher

REPLACEMENT = "\ufffd"  # what a decoder shows for an incomplete UTF-8 sequence


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    text: str
    logprob: float
    top: tuple[TopLogprob, ...]
    offset: int  # where the token's text begins in the choice's text


@dataclass
class Piece:
    index: int
    text: str = ""
    tokens: list[TokenInfo] = field(default_factory=list)
    finish_reason: str | None = None
    completion_tokens: int = 0  # set on the last piece of a choice


async def aclose(iterator: object) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def run_choice(
    engine: Engine, request: GenerationRequest, index: int, stops: Sequence[str], logprobs: bool
) -> AsyncIterator[Piece]:
    """Pieces of one choice; the last has `finish_reason`. Closing this generator closes
    the engine's iterator, which frees the batch slot."""
    model, params = request.model, request.params
    matcher = StopMatcher(stops)
    ids: list[int] = []
    decoded = ""  # the settled decoding of `ids`
    emitted = 0  # characters of `decoded` shown so far
    pending: list[TokenInfo] = []
    count = 0
    finish: str | None = None
    last_text = ""  # text of the event that ended the loop, not yet yielded
    events = engine.generate(request)
    try:
        async for event in events:
            piece = Piece(index)
            if event.token_id is not None:
                count += 1
                if event.token_id not in params.stop_token_ids:
                    start = len(decoded)
                    ids.append(event.token_id)
                    text = engine.decode(model, ids)
                    if event.finish_reason or not text.endswith(REPLACEMENT):
                        new, decoded = text[len(decoded) :], text
                        piece.text = matcher.feed(new)
                    if logprobs:
                        pending.append(
                            TokenInfo(
                                event.token_id,
                                engine.decode(model, [event.token_id]),
                                event.logprob if event.logprob is not None else 0.0,
                                event.top_logprobs,
                                start,
                            )
                        )
            emitted += len(piece.text)
            if matcher.stopped:
                finish = "stop"
                piece.tokens, pending = _released(pending, emitted), []
                piece.finish_reason, piece.completion_tokens = finish, count
                yield piece
                return
            if event.finish_reason is not None:
                finish, last_text = event.finish_reason, piece.text
                break
            piece.tokens = _released(pending, emitted)
            pending = pending[len(piece.tokens) :]
            if piece.text or piece.tokens:
                yield piece
        tail = matcher.flush()
        if finish is None:  # the iterator ended without saying why
            finish = "length" if count >= params.max_tokens else "stop"
        yield Piece(index, last_text + tail, pending, finish, count)
    finally:
        await aclose(events)


def _released(pending: list[TokenInfo], emitted: int) -> list[TokenInfo]:
    """Tokens whose text has started to be shown (held-back text keeps its tokens)."""
    out = []
    for token in pending:
        if token.offset >= emitted and token.text:
            break
        out.append(token)
    return out


async def merge(choices: list[AsyncIterator[Piece]]) -> AsyncIterator[Piece]:
    """The pieces of concurrently running choices, as they come. Closing the merged
    stream cancels every choice, which closes their engine iterators."""
    if len(choices) == 1:
        try:
            async for piece in choices[0]:
                yield piece
        finally:
            await aclose(choices[0])
        return
    queue: asyncio.Queue[Piece | BaseException | None] = asyncio.Queue()

    async def pump(choice: AsyncIterator[Piece]) -> None:
        try:
            async for piece in choice:
                queue.put_nowait(piece)
        except Exception as exc:  # handed to the consumer, which raises it
            queue.put_nowait(exc)
        finally:
            await aclose(choice)
            queue.put_nowait(None)

    tasks = [asyncio.create_task(pump(choice)) for choice in choices]
    try:
        done = 0
        while done < len(tasks):
            item = await queue.get()
            if item is None:
                done += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class Choice:
    """One choice collected whole (non-streaming responses)."""

    text: str = ""
    tokens: list[TokenInfo] = field(default_factory=list)
    finish_reason: str | None = None
    completion_tokens: int = 0


async def collect(pieces: AsyncIterator[Piece], n: int) -> list[Choice]:
    choices = [Choice() for _ in range(n)]
    try:
        async for piece in pieces:
            choice = choices[piece.index]
            choice.text += piece.text
            choice.tokens.extend(piece.tokens)
            if piece.finish_reason is not None:
                choice.finish_reason = piece.finish_reason
                choice.completion_tokens = piece.completion_tokens
    finally:
        await aclose(pieces)
    return choices


def usage_object(prompt: int, completion: int) -> dict[str, int]:
    """OpenAI's `usage`: the same shape for chat and completions, streamed or not."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
