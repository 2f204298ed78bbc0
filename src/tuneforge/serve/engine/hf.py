"""The in-process engine: transformers + PEFT, one base model, many adapters, batched.

One scheduler thread owns the models. Each step it prefills the requests that arrived
since the last one together (one left-padded forward per base model, logits of the last
position only) and adds them to that model's running batch (continuous batching), then
runs ONE forward pass per base for every running request: LoRA adapters share that pass
(loaded.py: PEFT's mixed-adapter inference when rows name different adapters), so a
batch may mix requests for different adapters. Rows are left-padded with an attention mask and
explicit position ids, so a request's tokens do not depend on who else is in the batch
(up to float rounding of different matrix shapes).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import torch

from tuneforge.serve.engine.base import (
    EngineError,
    EngineStats,
    GenerationRequest,
    ModelCard,
    TemplateError,
    TokenEvent,
)
from tuneforge.serve.engine.constraint import Matcher
from tuneforge.serve.engine.kv_batch import (
    Batch,
    cache_argument,
    join,
    kv_cache,
    left_padded,
    shrink,
)
from tuneforge.serve.engine.loaded import BASE, Loaded, mixable, prompt_learning
from tuneforge.serve.engine.sampling import choose, penalised, top_logprobs
from tuneforge.serve.registry import Entry, Registry


@dataclass
class Sequence:
    request: GenerationRequest
    emit: Callable[[TokenEvent | Exception], object]
    entry: Entry
    cancelled: bool = False
    adapter: str = BASE
    length: int = 0  # real tokens in the cache
    last: int = 0  # the token to feed next step
    generated: int = 0
    counts: dict[int, int] = field(default_factory=dict)
    generator: torch.Generator | None = None
    matcher: Matcher | None = None


class HFEngine:
    def __init__(
        self,
        data_dir: Path,
        models: list[str],
        adapters: dict[str, str],
        max_loaded_adapters: int = 8,
        dtype: str = "auto",
    ):
        self.registry = Registry(data_dir, models, adapters)
        self.capacity = max(1, max_loaded_adapters)
        self.dtype = dtype
        self.loaded: dict[str, Loaded] = {}  # by root id
        self._tokenizers: dict[str, Any] = {}  # adapter folders that carry their own
        self._inbox: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._thread is not None:  # one engine thread: it alone touches the models
            return
        await asyncio.to_thread(self._load_bases)
        self._thread = threading.Thread(target=self._run, name="tuneforge-engine", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        self._stop.set()
        self._inbox.put(None)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)
            self._thread = None
        self._stop.clear()

    def _load_bases(self) -> None:
        for entry in self.registry.entries():
            if entry.kind == "base":
                self.loaded[entry.id] = Loaded(entry.folder, self.dtype)

    # ------------------------------------------------------------ what the routes ask

    def models(self) -> list[ModelCard]:
        return [self._card(e) for e in self.registry.entries()]

    def card(self, model: str) -> ModelCard:
        return self._card(self.registry.get(model))

    def _card(self, e: Entry) -> ModelCard:
        return ModelCard(e.id, e.created, e.owned_by, e.root, e.parent, e.kind)

    def _tokenizer(self, model: str):
        entry = self.registry.get(model)
        if entry.kind == "adapter":
            if (Path(entry.folder) / "tokenizer_config.json").is_file():
                if entry.folder not in self._tokenizers:
                    from transformers import AutoTokenizer

                    self._tokenizers[entry.folder] = AutoTokenizer.from_pretrained(entry.folder)
                return self._tokenizers[entry.folder]
            return self.loaded[entry.root].tokenizer
        return self._loaded(entry).tokenizer

    def render_chat(self, model: str, messages: list[dict], tools: list[dict] | None) -> list[int]:
        tokenizer = self._tokenizer(model)
        try:
            text = tokenizer.apply_chat_template(
                messages, tools=tools or None, tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # jinja's TemplateError and the template's raise_exception
            raise TemplateError(
                f"the chat template cannot render this conversation: {exc}"
            ) from None
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode(self, model: str, text: str) -> list[int]:
        return self._tokenizer(model)(text, add_special_tokens=False)["input_ids"]

    def decode(self, model: str, token_ids: list[int]) -> str:
        return self._tokenizer(model).decode(token_ids, skip_special_tokens=True)

    def context_length(self, model: str) -> int:
        loaded = self._loaded(self.registry.get(model))
        return int(getattr(loaded.model.config, "max_position_embeddings", 2048))

    def end_token_ids(self, model: str) -> tuple[int, ...]:
        tokenizer = self._tokenizer(model)
        ends = {tokenizer.eos_token_id}
        configured = self._loaded(self.registry.get(model)).model.generation_config.eos_token_id
        ends.update(configured if isinstance(configured, list) else [configured])
        return tuple(sorted(i for i in ends if i is not None))

    def register_adapter(self, name: str, path: str) -> ModelCard:
        entry = self.registry.add(name, path)
        try:
            self._call(lambda: self._validate(entry))
        except Exception:
            self.registry.remove(name)
            raise
        return self._card(entry)

    def unregister_adapter(self, name: str) -> None:
        self.registry.remove(name)

    def preload(self, model: str) -> None:
        entry = self.registry.get(model)
        # A full model or a merged copy would be a whole model's memory for a request that
        # may never come; those still load when first asked for.
        if entry.kind == "adapter" and mixable(entry.folder):
            self._call(lambda: self._validate(entry))

    def stats(self) -> EngineStats:
        rows = sum(len(m.batch.rows) for m in self.loaded.values())
        names = [i for m in self.loaded.values() for i in m.adapters]
        return EngineStats(running=rows, waiting=self._inbox.qsize(), loaded_adapters=names)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        sequence = Sequence(
            request,
            lambda e: loop.call_soon_threadsafe(events.put_nowait, e),
            self.registry.get(request.model),
        )
        self._inbox.put(sequence)
        try:
            while True:
                event = await events.get()
                if isinstance(event, Exception):
                    raise event
                yield event
                if event.finish_reason is not None:
                    return
        finally:
            sequence.cancelled = True  # a client gone mid-stream frees its row next step

    # ------------------------------------------------------------ the engine thread

    def _call(self, job: Callable[[], Any]) -> Any:
        """Run job on the engine thread (the only one that touches models) and wait."""
        if self._thread is None:
            return job()
        done = threading.Event()
        outcome: list = []

        def wrapped() -> None:
            try:
                outcome.append((True, job()))
            except Exception as exc:
                outcome.append((False, exc))
            done.set()

        self._inbox.put(wrapped)
        done.wait()
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    def _loaded(self, entry: Entry) -> Loaded:
        """The model object an entry runs on; full models and adapters PEFT cannot mix
        into a batch get their own copy of the weights."""
        if entry.kind == "adapter" and mixable(entry.folder):
            return self.loaded[entry.root]
        if entry.id not in self.loaded:
            if entry.kind == "adapter" and prompt_learning(entry.folder):
                raise EngineError(
                    f"{entry.id!r} is a prompt-learning adapter, which this server does not "
                    "serve yet; serve a LoRA-family adapter or a merged model",
                    param="model",
                )
            base = self.loaded[entry.root] if entry.kind == "adapter" else None
            loaded = Loaded(base_folder(self, entry) if base else entry.folder, self.dtype)
            if entry.kind == "adapter":
                from peft import PeftModel

                loaded.model = PeftModel.from_pretrained(
                    loaded.model, entry.folder
                ).merge_and_unload()
                loaded.model.eval()
            self.loaded[entry.id] = loaded
        return self.loaded[entry.id]

    def _validate(self, entry: Entry) -> None:
        loaded = self._loaded(entry)
        tokenizer = self._tokenizer(entry.id)
        if len(tokenizer) > loaded.vocab:
            raise EngineError(
                f"adapter {entry.id!r}: its tokenizer has {len(tokenizer)} tokens, "
                f"the base model {loaded.vocab}",
                param="lora_path",
            )
        if entry.kind == "adapter" and mixable(entry.folder):
            busy = {s.adapter for s in loaded.batch.rows}
            loaded.adapter_name(entry, self.capacity, busy)

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = any(m.batch.rows for m in self.loaded.values())
            try:
                item = self._inbox.get() if not busy else self._inbox.get_nowait()
            except queue.Empty:
                item = None
            arrivals: list[Sequence] = []
            while item is not None:
                if isinstance(item, Sequence):
                    arrivals.append(item)
                elif callable(item):
                    item()
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    item = None
            if arrivals:
                self._admit(arrivals)
            for loaded in list(self.loaded.values()):
                if loaded.batch.rows:
                    self._guard(loaded.batch.rows, partial(self._step, loaded))

    def _guard(self, rows: list[Sequence], work: Callable[[], None]) -> bool:
        """An error in one step fails the requests involved, never the engine thread."""
        try:
            work()
            return True
        except Exception as exc:
            if not isinstance(exc, EngineError):
                traceback.print_exc()  # a server-side fault: the operator needs the trace
            error = (
                exc
                if isinstance(exc, EngineError)
                else EngineError(f"generation failed: {exc}", status=500)
            )
            for s in rows:
                s.emit(error)
            for loaded in self.loaded.values():
                if any(s in loaded.batch.rows for s in rows):
                    loaded.batch = Batch()
            return False

    def _admit(self, arrivals: list[Sequence]) -> None:
        """Prefill every request that arrived since the last step, one forward pass per
        model, and add them to its running batch. Per-request setup (adapter, grammar)
        fails only its own request."""
        groups: dict[int, tuple[Loaded, list[Sequence]]] = {}
        for s in arrivals:
            if s.cancelled:
                continue
            self._guard([s], partial(self._setup, s, groups))
        for loaded, group in groups.values():
            self._guard(group, partial(self._prefill, loaded, group))

    def _setup(self, s: Sequence, groups: dict[int, tuple[Loaded, list[Sequence]]]) -> None:
        """Resolve s's model, adapter, seed and grammar, then queue it in its model's group."""
        loaded = self._loaded(s.entry)
        if s.entry.kind == "adapter" and loaded is self.loaded.get(s.entry.root):
            # adapters of requests waiting in this step's prefill are busy too
            waiting = groups.get(id(loaded), (loaded, []))[1]
            busy = {r.adapter for r in [*loaded.batch.rows, *waiting]}
            s.adapter = loaded.adapter_name(s.entry, self.capacity, busy)
        params = s.request.params
        if params.seed is not None:
            s.generator = torch.Generator().manual_seed(params.seed)
        if params.constraint is not None:
            s.matcher = loaded.grammar.matcher(params.constraint)
        groups.setdefault(id(loaded), (loaded, []))[1].append(s)

    @torch.inference_mode()
    def _prefill(self, loaded: Loaded, group: list[Sequence]) -> None:
        pad = loaded.tokenizer.pad_token_id or 0  # any id: padding is masked out
        ids, mask, positions = left_padded([s.request.prompt_ids for s in group], pad)
        out = loaded.forward(
            ids,
            [s.adapter for s in group],
            attention_mask=mask.to(loaded.device),
            position_ids=positions.to(loaded.device),
            logits_to_keep=1,  # only the last position's logits are sampled
        )
        prefilled = Batch(list(group), kv_cache(out), mask)
        going = []
        for i, s in enumerate(group):
            s.length = len(s.request.prompt_ids)
            if not self._advance(loaded, s, out.logits[i, -1]):
                going.append(i)
        if len(going) < len(group):
            shrink(prefilled, going)
        join(loaded.batch, prefilled)

    @torch.inference_mode()
    def _step(self, loaded: Loaded) -> None:
        batch = loaded.batch
        keep = [i for i, s in enumerate(batch.rows) if not s.cancelled]
        if len(keep) < len(batch.rows):
            shrink(batch, keep)
            if not batch.rows:
                return
        ids = torch.tensor([[s.last] for s in batch.rows])
        positions = torch.tensor([[s.length] for s in batch.rows], device=loaded.device)
        assert batch.mask is not None
        batch.mask = torch.cat([batch.mask, torch.ones(len(batch.rows), 1, dtype=torch.long)], 1)
        out = loaded.forward(
            ids,
            [s.adapter for s in batch.rows],
            attention_mask=batch.mask.to(loaded.device),
            position_ids=positions,
            logits_to_keep=1,
            **{cache_argument(): batch.cache},
        )
        batch.cache = kv_cache(out)
        finished = []
        for i, s in enumerate(batch.rows):
            s.length += 1
            if self._advance(loaded, s, out.logits[i, -1]):
                finished.append(i)
        if finished:
            shrink(batch, [i for i in range(len(batch.rows)) if i not in finished])

    def _advance(self, loaded: Loaded, s: Sequence, logits: torch.Tensor) -> bool:
        """Choose and report the next token of s; True when s is finished."""
        params = s.request.params
        logits = penalised(logits.float().cpu(), s.counts, params)
        logprobs = torch.log_softmax(logits, -1) if params.top_logprobs is not None else None
        if s.matcher is not None:
            logits = s.matcher.mask(logits)
        token = choose(logits, params, s.generator)
        s.generated += 1
        ends = token in params.stop_token_ids
        if s.matcher is not None and not ends:
            s.matcher.accept(token)
            ends = s.matcher.finished
        finish: Literal["stop", "length"] | None = (
            "stop" if ends else "length" if s.generated >= params.max_tokens else None
        )
        event = TokenEvent(
            None if token in params.stop_token_ids else token,
            None if logprobs is None else float(logprobs[token]),
            ()
            if logprobs is None
            else top_logprobs(
                logprobs, params.top_logprobs or 0, lambda i: loaded.tokenizer.decode([i])
            ),
            finish,
        )
        s.emit(event)
        s.counts[token] = s.counts.get(token, 0) + 1
        s.last = token
        return finish is not None


def base_folder(engine: HFEngine, entry: Entry) -> str:
    return engine.registry.bases.get(entry.root, entry.root)
