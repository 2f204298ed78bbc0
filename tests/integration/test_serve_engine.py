"""The real engine (transformers + PEFT) on the tiny model with two trained adapters,
in-process and behind a live server driven by the official SDK."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from tests.helpers import TINY, chat_records, tiny_overrides, write_jsonl, write_yaml
from tests.threaded_server import serve_in_thread
from tuneforge.cli.main import main as tuneforge
from tuneforge.serve.engine.base import Constraint, GenerationRequest, SamplingParams

PROMPTS = ["hello there", "write a poem about the sea", "what is two plus two", "name a colour"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two LoRA runs on different target modules, trained hard enough to change replies."""
    root = tmp_path_factory.mktemp("serve")
    data = write_jsonl(root / "train.jsonl", chat_records(16, seed=4))
    targets = {"attn": ["q_proj", "v_proj"], "mlp": ["gate_proj", "up_proj", "down_proj"]}
    for name, modules in targets.items():
        config = write_yaml(root / f"{name}.yaml", {"adapter": {"target_modules": modules}})
        overrides = tiny_overrides(data, root / name)
        assert tuneforge(["train", str(config), *overrides, "train.lr=5e-2"]) == 0
    return {name: str(root / name) for name in targets}


@pytest.fixture(scope="module")
def engine(runs, tmp_path_factory):
    from tuneforge.serve.engine.hf import HFEngine

    engine = HFEngine(tmp_path_factory.mktemp("data"), [TINY], runs, dtype="float32")
    asyncio.run(engine.start())
    yield engine
    asyncio.run(engine.close())


def greedy(engine, model: str, prompt: str, max_tokens: int = 12, **params) -> GenerationRequest:
    ids = engine.render_chat(model, [{"role": "user", "content": prompt}], None)
    sampling = SamplingParams(
        max_tokens=max_tokens, temperature=0, stop_token_ids=engine.end_token_ids(model), **params
    )
    return GenerationRequest(model, ids, sampling)


async def collect(engine, request: GenerationRequest) -> list[int]:
    return [e.token_id async for e in engine.generate(request) if e.token_id is not None]


def run_all(engine, requests):
    async def together():
        return await asyncio.gather(*(collect(engine, r) for r in requests))

    return asyncio.run(together())


def test_mixed_adapter_batch_equals_each_request_alone(engine):
    requests = [
        greedy(engine, model, prompt) for prompt in PROMPTS for model in (TINY, "attn", "mlp")
    ]
    alone = [run_all(engine, [r])[0] for r in requests]
    mixed = run_all(engine, requests)
    assert mixed == alone
    by_model = {r.model: tokens for r, tokens in zip(requests[:3], alone[:3], strict=True)}
    assert len({tuple(t) for t in by_model.values()}) == 3, "adapters should change replies"


def test_replies_equal_generate_with_the_adapter(engine, runs):
    from tuneforge.models.inference import generate_replies, load_for_inference

    for name, run in runs.items():
        model, tokenizer = load_for_inference(None, run)
        conversations = [[{"role": "user", "content": p}] for p in PROMPTS]
        expected = generate_replies(model, tokenizer, conversations, max_new_tokens=12)
        served = run_all(engine, [greedy(engine, name, p) for p in PROMPTS])
        assert [tokenizer.decode(t, skip_special_tokens=True).strip() for t in served] == expected


def test_json_schema_output_validates(engine):
    schema = {
        "type": "object",
        # A random model never ends a free string: bounded fields make the grammar end it.
        "properties": {
            "name": {"type": "string", "maxLength": 8},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
        },
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    request = greedy(
        engine,
        "attn",
        "describe a person",
        max_tokens=200,
        constraint=Constraint("json_schema", schema),
    )
    (tokens,) = run_all(engine, [request])
    reply = json.loads(engine.decode("attn", tokens))
    assert set(reply) == {"name", "age"} and isinstance(reply["age"], int)


def test_one_slot_reloads_adapters_and_stays_correct(runs, tmp_path):
    from tuneforge.serve.engine.hf import HFEngine

    one = HFEngine(tmp_path, [TINY], runs, max_loaded_adapters=1, dtype="float32")
    asyncio.run(one.start())
    try:
        requests = [greedy(one, m, PROMPTS[0]) for m in ("attn", "mlp", "attn", TINY)]
        first = [run_all(one, [r])[0] for r in requests]
        assert first[0] == first[2] and len(one.stats().loaded_adapters) == 1
    finally:
        asyncio.run(one.close())


@pytest.fixture(scope="module")
def server(engine):
    from tuneforge.serve.app import create_app
    from tuneforge.serve.settings import ServeSettings

    with serve_in_thread(create_app(engine, None, ServeSettings())) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="local", max_retries=0)


def test_sdk_against_the_real_engine(server):
    ids = {m.id for m in server.models.list()}
    assert {TINY, "attn", "mlp"} <= ids
    messages = [{"role": "user", "content": "hi"}]
    reply = server.chat.completions.create(
        model="mlp", messages=messages, temperature=0, max_tokens=8
    )
    stream = server.chat.completions.create(
        model="mlp", messages=messages, temperature=0, max_tokens=8, stream=True
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert streamed == reply.choices[0].message.content
    assert reply.usage.completion_tokens <= 8
    seeded = [
        server.chat.completions.create(
            model="attn", messages=messages, temperature=1, seed=3, max_tokens=8, n=2
        )
        for _ in range(2)
    ]
    assert [c.message.content for c in seeded[0].choices] == [
        c.message.content for c in seeded[1].choices
    ]
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "additionalProperties": False,
        "required": ["ok"],
    }
    structured = server.chat.completions.create(
        model="attn",
        messages=messages,
        max_tokens=100,
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
    )
    assert isinstance(json.loads(structured.choices[0].message.content)["ok"], bool)
    with pytest.raises(openai.NotFoundError):
        server.chat.completions.create(model="../attn", messages=messages)


def test_adapters_join_and_leave_without_a_restart(engine, runs):
    from tuneforge.serve.engine.base import EngineError, ModelNotFound

    card = engine.register_adapter("attn-copy", runs["attn"])
    assert card.root == TINY and "attn-copy" in {m.id for m in engine.models()}
    (tokens,) = run_all(engine, [greedy(engine, "attn-copy", PROMPTS[0])])
    assert tokens == run_all(engine, [greedy(engine, "attn", PROMPTS[0])])[0]
    engine.unregister_adapter("attn-copy")
    for missing in ("attn-copy", "../attn", "a/b"):
        with pytest.raises(ModelNotFound):
            engine.card(missing)
    with pytest.raises(EngineError, match="no such folder"):
        engine.register_adapter("nothing", str(runs["attn"]) + "/checkpoints")


def test_preload_puts_a_new_adapter_in_memory_before_its_first_request(runs, tmp_path):
    from tuneforge.serve.engine.hf import HFEngine
    from tuneforge.serve.registry import write_entry

    engine = HFEngine(tmp_path, [TINY], {}, dtype="float32")
    asyncio.run(engine.start())
    try:
        write_entry(engine.registry.folder, "ft:tiny:acme::1", runs["attn"], 0, owner="acme")
        assert engine.stats().loaded_adapters == []
        engine.preload("ft:tiny:acme::1")
        assert engine.stats().loaded_adapters == ["ft:tiny:acme::1"]
        engine.preload(TINY)  # a base is loaded already: nothing to do
    finally:
        asyncio.run(engine.close())
