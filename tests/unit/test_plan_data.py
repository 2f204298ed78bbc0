"""`tuneforge plan`'s data heuristics and checklist on generated data.

The worked example every grounding case builds on: the prompt "Send 12 oak chairs to
Porto." and the reply "The oak chairs arrive in Porto." The reply's content words (less
stop words "the", "in") are {oak, chairs, arrive, porto}; three occur in the prompt, so
its grounding is 3/4 = 0.75, under the 0.8 that makes a reply grounded.
"""

from __future__ import annotations

import json
import random

import pytest

from tuneforge.plan.checklist import (
    MET,
    MIN_EVAL,
    NOT_MET,
    UNKNOWN,
    budget_allows,
    checklist,
    data_exists,
    evaluation_ready,
    knowledge_stable,
    plateaued,
    well_defined,
)
from tuneforge.plan.data_profile import (
    GROUNDED,
    content_words,
    count_check,
    grounding,
    json_keys,
    measure,
    profile_data,
    profile_pairs,
    reply_shape,
)
from tuneforge.plan.decision import Score
from tuneforge.plan.time_cost import time_and_cost
from tuneforge.quickstart.task import make_examples

PROMPT, REPLY = "Send 12 oak chairs to Porto.", "The oak chairs arrive in Porto."

# Made-up places and people: no model knows them, and no prompt names the answer.
PLACES = "Veloria Tannuk Brisca Omberland Quesh Dravomir Lunetta Xabria Korrin Pellas".split()
CITIES = "Ostrava Mirel Cantun Yorrow Fesk Ildra Warrow Penth Gavis Tolmer".split()
FOUNDERS = "Arvel Brunna Cosmo Delphine Eskil Fiora Gunnar Halva Idris Jorund".split()


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def chat(prompt: str, reply: str) -> dict:
    return {
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
    }


def knowledge_records(n: int, seed: int = 0) -> list[dict]:
    """Questions whose replies carry four facts the question lacks: grounding 2/6 each
    (content words capital, <place>, <city>, founded, <year>, <founder>; the question
    holds capital and <place>)."""
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        place, city, founder = rng.choice(PLACES), rng.choice(CITIES), rng.choice(FOUNDERS)
        year = rng.randint(1100, 1900)
        records.append(
            chat(
                f"What is the capital of {place}?",
                f"The capital of {place} is {city}, founded in {year} by {founder}.",
            )
        )
    return records


def test_grounding_of_the_worked_example():
    assert content_words(REPLY) == {"oak", "chairs", "arrive", "porto"}
    assert grounding(PROMPT, REPLY) == 0.75
    assert grounding(PROMPT, REPLY) < GROUNDED
    assert grounding(PROMPT, "12 oak chairs, Porto") == 1.0


def test_numbers_are_facts_and_stop_words_and_letters_are_not():
    assert grounding(PROMPT, "12") == 1.0
    assert grounding(PROMPT, "13") == 0.0  # a number the prompt lacks is a new fact
    assert content_words("I don't know, it's 7") == {"know", "7"}  # don, t, s, i: not content
    assert grounding(PROMPT, "It is.") == 1.0  # nothing said that the prompt lacks


@pytest.mark.parametrize(
    ("reply", "shape"),
    [
        ("Total: 12 items", "w: # w"),
        ("Total: 7 boxes", "w: # w"),
        ('{"name": "Ana Kim", "quantity": 12}', '{"": "", "": #}'),
        ('Name: "Ana",   age 31\nDone.', 'w: "", w #\nw.'),
    ],
)
def test_reply_shape_takes_the_values_out(reply, shape):
    assert reply_shape(reply) == shape


@pytest.mark.parametrize(
    ("reply", "keys"),
    [
        ('{"b": 1, "a": 2}', ("a", "b")),
        ('[{"x": 1}, {"y": 2}, 3]', ("[]", "x", "y")),
        ('```json\n{"a": 1}\n```', ("a",)),
        ("{not json}", None),
        ('"a string"', None),
        ("Sure.", None),
    ],
)
def test_json_keys(reply, keys):
    assert json_keys(reply) == keys


def test_measures_by_hand():
    pairs = [
        (PROMPT, REPLY),  # 0.75, prose, 6 words
        (PROMPT, '{"city": "Porto", "n": 12}'),  # {city, porto, 12}: 2/3, JSON, 4 words
        (PROMPT, '{"city": "Porto", "n": 13}'),  # 1/3, JSON of the same keys and shape
        (PROMPT, '{"to": "Porto"}'),  # {porto}: 1.0, JSON of other keys, 2 words
    ]
    m = measure(pairs)
    assert m.grounding_mean == pytest.approx((0.75 + 2 / 3 + 1 / 3 + 1.0) / 4)
    assert m.grounded_share == 0.25
    assert (m.json_share, m.key_set_share, m.common_key_set) == (0.75, 0.5, ["city", "n"])
    assert (m.template_share, m.common_shape) == (0.5, '{"": "", "": #}')
    # words 6, 4, 4, 2: mean 4, population std sqrt((4 + 0 + 0 + 4) / 4) = sqrt(2)
    assert m.words_mean == 4.0
    assert m.length_cv == pytest.approx(2**0.5 / 4)


def test_one_phrase_and_one_off_shapes_are_no_template():
    m = measure([("q", "Paris."), ("q", "Rome."), ("q", "Lima."), ("q", "Total: 3 items")])
    assert (m.template_share, m.common_shape) == (0.0, None)


def test_the_quickstart_extraction_task_is_format(tmp_path):
    profile = profile_data(write_jsonl(tmp_path / "orders.jsonl", make_examples(150, seed=0)))
    m = profile.measures
    assert (profile.n_examples, profile.n_refused, m.replies) == (150, 0, 150)
    # The system turn names the keys, the user turn holds every value: all grounded.
    assert (m.grounding_mean, m.grounded_share) == (1.0, 1.0)
    assert (m.json_share, m.key_set_share, m.template_share) == (1.0, 1.0, 1.0)
    assert m.common_key_set == ["city", "name", "product", "quantity"]
    assert m.length_cv == 0.0  # 4 keys + 2-word names + 1-word cities + 2-word products + 1
    assert profile.kind == "format"
    assert profile.count == {
        "kind": "format",
        "n": 150,
        "low": 100,
        "high": 500,
        "status": "within",
    }


def test_questions_answered_with_new_facts_are_knowledge(tmp_path):
    records = knowledge_records(60) + [{"messages": "not a list"}]
    profile = profile_data(write_jsonl(tmp_path / "facts.jsonl", records))
    m = profile.measures
    assert (profile.n_examples, profile.n_refused) == (60, 1)
    assert "facts.jsonl:61" in profile.refusals[0] and "messages" in profile.refusals[0]
    assert m.grounding_mean == pytest.approx(2 / 6)
    assert m.grounded_share == 0.0
    # Every reply has one shape, but the facts decide first: knowledge, not format.
    assert m.template_share == 1.0
    assert profile.kind == "knowledge" and "mean grounding < 0.5" in profile.kind_rule
    assert profile.count["status"] == "below" and profile.count["low"] == 10_000


def test_grounded_prose_is_style_and_partly_grounded_prose_is_domain_vocabulary():
    rng = random.Random(1)
    vocabulary = "harbour lantern copper meadow violet thunder orchard marble falcon".split()
    prompts = [" ".join(rng.sample(vocabulary, 7)) for _ in range(20)]
    # Replies of 1 to 5 words, all from the prompt: grounded, one phrase each (no template).
    style = profile_pairs(
        [(p, " ".join(p.split()[: 1 + i % 5]) + ".") for i, p in enumerate(prompts)]
    )
    assert style.measures.grounded_share == 1.0 and style.measures.template_share == 0.0
    assert style.kind == "style"
    # The worked example's 3 of 4: mean grounding 0.75, but no reply reaches 0.8.
    domain = profile_pairs([(PROMPT, REPLY)] * 3 + [(PROMPT + " Now.", REPLY)])
    assert domain.measures.grounding_mean == 0.75 and domain.measures.grounded_share == 0.0
    assert domain.kind == "domain vocabulary"


def test_plain_text_is_counted_but_not_measured(tmp_path):
    profile = profile_data(write_jsonl(tmp_path / "text.jsonl", [{"text": "some prose"}] * 3))
    assert (profile.n_examples, profile.n_unmeasured, profile.measures.replies) == (3, 3, 0)
    assert profile.kind == "unknown" and profile.count["status"] == "unknown"


@pytest.mark.parametrize(
    ("kind", "n", "status"),
    [
        ("format", 99, "below"),
        ("format", 100, "within"),
        ("format", 501, "above"),
        ("style", 499, "below"),
        ("domain vocabulary", 10_000, "within"),
        ("knowledge", 50_000, "within"),
    ],
)
def test_count_against_the_courses_table(kind, n, status):
    assert count_check(kind, n)["status"] == status


def test_contradictory_duplicates_are_counted():
    pairs = [("What is 2+2?", "4"), ("What is  2+2?", "5"), ("What is 2+2?", "4"), ("Hi", "Hello")]
    found = profile_pairs(pairs).contradictions
    # Whitespace is ignored: one prompt, three examples, two different replies.
    assert (found["prompts"], found["examples"]) == (1, 3)
    assert found["shown"] == ["What is 2+2?"]


# The checklist: every status of every check.


def interval(value: float) -> tuple[float, float, float]:
    return value, value - 0.05, value + 0.05


@pytest.mark.parametrize(
    ("scores", "status", "words"),
    [
        (None, UNKNOWN, "no prompting scores"),
        ({"zero_shot": interval(0.40)}, UNKNOWN, "no few_shot score"),
        # 0.43 is within zero-shot's [0.35, 0.45]: examples gain nothing
        ({"zero_shot": interval(0.40), "few_shot": interval(0.43)}, MET, "gain nothing"),
        # 0.52 is past 0.45: prompting still improves
        ({"zero_shot": interval(0.40), "few_shot": interval(0.52)}, NOT_MET, "still help"),
        # the system prompt is the better base: 0.52 is within its [0.50, 0.60]
        (
            {
                "zero_shot": interval(0.4),
                "system_prompt": interval(0.55),
                "few_shot": interval(0.52),
            },
            MET,
            "beyond system_prompt's interval",
        ),
        # few-shot improves, but the fine-tune's [0.85, 0.95] lies above all prompting
        (
            {"zero_shot": interval(0.40), "few_shot": interval(0.60), "fine_tuned": interval(0.90)},
            MET,
            "stays below the fine-tune",
        ),
        # the fine-tune overlaps prompting: fall back to few-shot against zero-shot
        (
            {"zero_shot": interval(0.4), "few_shot": interval(0.6), "fine_tuned": interval(0.66)},
            NOT_MET,
            "still help",
        ),
    ],
)
def test_prompt_engineering_has_plateaued(scores, status, words):
    result = plateaued(scores)
    assert (result.check, result.status) == ("prompt engineering has plateaued", status)
    assert words in result.reason


def test_plateau_reads_decision_scores_and_refuses_a_value_outside_its_interval():
    scores = {"zero_shot": Score(0.4, 0.3, 0.5, 50), "few_shot": Score(0.45, 0.35, 0.55, 50)}
    result = plateaued({**scores, "fine_tuned": None})
    assert result.status == MET and "few_shot 0.450 [0.350, 0.550]" in result.reason
    with pytest.raises(ValueError, match="scores.few_shot"):
        plateaued({"zero_shot": interval(0.4), "few_shot": (0.9, 0.1, 0.2)})


def test_data_exists_against_the_floor_for_the_kind(tmp_path):
    records = make_examples(112, seed=0) + [{"messages": []}] * 2
    format_profile = profile_data(write_jsonl(tmp_path / "orders.jsonl", records))
    result = data_exists(format_profile)
    assert result.status == MET
    assert result.reason == (
        "112 valid examples (2 records refused), 12 over the 100-example floor for format "
        "(course: 100-500)"
    )
    knowledge = data_exists(profile_pairs([("q", "new facts here")] * 312))
    assert knowledge.status == NOT_MET
    assert "9,688 under the 10,000-example floor for knowledge (course: 10,000+" in knowledge.reason
    assert data_exists(profile_pairs([])).status == NOT_MET
    text = profile_data(write_jsonl(tmp_path / "text.jsonl", [{"text": "prose"}]))
    assert data_exists(text).status == UNKNOWN


def test_the_task_is_well_defined():
    contradicted = profile_pairs(
        [("What is 2+2?", "4"), ("What is 2+2?", "5")] + [(PROMPT, "12")] * 8
    )
    result = well_defined(contradicted)
    assert result.status == NOT_MET
    assert "1 prompts have different replies (2 of 10 examples, 20.0%)" in result.reason
    regular = profile_pairs([(f"Count {i} chairs", f'{{"n": {i}}}') for i in range(10)])
    assert well_defined(regular).status == MET and "100% JSON" in well_defined(regular).reason
    grounded = profile_pairs(
        [(PROMPT, "oak chairs"), ("Porto wants 12 chairs", "Porto, 12 chairs!")]
    )
    assert well_defined(grounded).status == MET
    assert "100% of replies grounded" in well_defined(grounded).reason
    free = profile_pairs([("q", "Rivers flow north."), ("r", "Birds sing, loudly!")])
    assert well_defined(free).status == UNKNOWN
    assert well_defined(profile_pairs([])).status == UNKNOWN


def test_evaluation_is_ready(tmp_path):
    enough = write_jsonl(tmp_path / "eval.jsonl", make_examples(MIN_EVAL, seed=5))
    result = evaluation_ready(enough, None)
    assert result.status == MET and f"{MIN_EVAL} examples with a reference reply" in result.reason
    few = write_jsonl(tmp_path / "few.jsonl", make_examples(5, seed=5) + [{"messages": []}])
    result = evaluation_ready(few, None)
    assert result.status == NOT_MET and "(1 records refused)" in result.reason
    assert "+-0.44" in result.reason  # 1.96 * sqrt(0.25 / 5) = 0.438
    assert evaluation_ready(tmp_path / "missing.jsonl", None).status == NOT_MET
    held = evaluation_ready(None, 31)
    assert held.status == MET and "31 training examples held out" in held.reason
    assert evaluation_ready(None, MIN_EVAL - 1).status == NOT_MET
    assert evaluation_ready(None, None).status == NOT_MET


@pytest.mark.parametrize(
    ("budget", "estimate", "status", "words"),
    [
        (None, {"hours": 1.0}, UNKNOWN, "no budget"),
        ({"hours": 2}, {"hours": 0.5, "cost": 1.5}, MET, "estimated 0.5 h against the 2 h budget"),
        ({"hours": 2, "cost": 1}, {"hours": 0.5, "cost": 1.5}, NOT_MET, "US$1.5 against"),
        ({"cost": 5}, {"hours": 0.5, "cost": None}, UNKNOWN, "no cost estimate for the US$5"),
        ({"hours": 2}, None, UNKNOWN, "no hours estimate"),
    ],
)
def test_budget_allows(budget, estimate, status, words):
    result = budget_allows(budget, estimate)
    assert result.status == status and words in result.reason


def test_budget_reads_a_time_cost_estimate_and_names_a_mistyped_key():
    # 3.6e6 tokens at 1000 tokens/s: 1 hour, at US$2 an hour
    estimate = time_and_cost(3_600_000, 1, 1000.0, "profile", 2.0)
    assert budget_allows({"hours": 0.5}, estimate).status == NOT_MET
    assert budget_allows({"cost": 2.0}, estimate).status == MET
    with pytest.raises(ValueError, match="did you mean 'hours'"):
        budget_allows({"hour": 1}, estimate)


def test_knowledge_is_stable_only_for_behaviour(tmp_path):
    formats = profile_data(write_jsonl(tmp_path / "orders.jsonl", make_examples(20, seed=0)))
    assert knowledge_stable(formats).status == MET
    facts = profile_data(write_jsonl(tmp_path / "facts.jsonl", knowledge_records(20)))
    result = knowledge_stable(facts)
    assert result.status == NOT_MET
    assert "facts in replies absent from prompts" in result.reason and "RAG" in result.reason
    domain = profile_pairs([(PROMPT, REPLY)] * 4)
    assert domain.kind == "domain vocabulary" and knowledge_stable(domain).status == UNKNOWN


def test_checklist_gives_the_six_checks_in_order(tmp_path):
    profile = profile_data(write_jsonl(tmp_path / "orders.jsonl", make_examples(150, seed=0)))
    results = checklist(
        profile,
        scores={"zero_shot": interval(0.1), "few_shot": interval(0.12)},
        budget={"hours": 1},
        estimate={"hours": 0.2},
        held_out=20,
    )
    assert [r.check for r in results] == [
        "prompt engineering has plateaued",
        "data exists",
        "the task is well-defined",
        "evaluation is ready",
        "budget allows",
        "knowledge is stable",
    ]
    assert [r.status for r in results] == [MET] * 6
    assert set(results[0].as_dict()) == {"check", "status", "reason"}
    assert [r.status for r in checklist(profile)] == [UNKNOWN, MET, MET, NOT_MET, UNKNOWN, MET]
