"""Every scorer against values worked out by hand, and the inputs that break naive ones.

The overlap scorers share one pair of sentences:
    reference  "the cat sat on the mat"        (6 tokens)
    prediction "the cat was on the mat today"  (7 tokens)
"""

from __future__ import annotations

import pytest

from tuneforge.errors import ConfigError
from tuneforge.eval.scorers import (
    SCORERS,
    bleu,
    contains,
    exact,
    extract_number,
    field_accuracy,
    get_scorer,
    json_schema,
    json_valid,
    normalise_text,
    normalised,
    numeric,
    regex,
    rouge_l,
    strip_code_fence,
)

REFERENCE = "the cat sat on the mat"
PREDICTION = "the cat was on the mat today"
ORDER = '{"name": "Ana Kim", "city": "Porto", "product": "oak chairs", "quantity": 12}'
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
    "required": ["name", "quantity"],
}


def test_every_scorer_is_registered_and_scores_in_the_unit_interval():
    options = {"regex": {"pattern": "cat"}, "json_schema": {"schema": SCHEMA}}
    assert set(SCORERS) == {
        "exact", "normalised", "contains", "regex", "numeric", "json_valid", "json_schema",
        "field_accuracy", "rouge_l", "bleu",
    }  # fmt: skip
    # every reference holds a number (numeric needs one); field_accuracy's is the order
    pairs = [(PREDICTION, "2 cats"), ("", "1"), ("naïve café 42", "42"), (ORDER, "#### 12")]
    for name in SCORERS:
        for prediction, reference in pairs:
            if name == "field_accuracy":
                reference = ORDER
            score = get_scorer(name, **options.get(name, {}))(prediction, reference)
            assert isinstance(score, float) and 0.0 <= score <= 1.0, (name, prediction)


@pytest.mark.parametrize(
    ("prediction", "reference", "score"),
    [
        ("Paris", "Paris", 1.0),
        ("  Paris\n", "Paris ", 1.0),  # surrounding whitespace only
        ("paris", "Paris", 0.0),  # case counts
        ("Paris.", "Paris", 0.0),  # punctuation counts
        ("New  York", "New York", 0.0),  # inner whitespace counts
        ("", "", 1.0),
        ("", "Paris", 0.0),
        ("Zürich", "Zürich", 1.0),
        ("Zürich", "Zu\u0308rich", 0.0),  # no Unicode normalisation: NFC != NFD
    ],
)
def test_exact(prediction, reference, score):
    assert exact(prediction, reference) == score


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        # lowercase; "-" "," "!" removed (so "eiffel-tower" joins); whitespace collapsed
        ("  The Eiffel-Tower, Paris! ", "eiffeltower paris"),
        # articles go as whole words only: "the" and "a" and "an", not "theatre" or "banana"
        ("The theatre had a banana and an apple", "theatre had banana and apple"),
        # Unicode punctuation (¡ « » … — 。) goes too, letters with accents stay
        ("¡Hola «Amigo»… — Ça va。", "hola amigo ça va"),
        ("1,234.50", "123450"),  # SQuAD-style: digits lose their punctuation too
        ("", ""),
        ("The a an", ""),
    ],
)
def test_normalise_text_is_squad_normalisation(text, normal):
    assert normalise_text(text) == normal


@pytest.mark.parametrize(
    ("prediction", "reference", "score"),
    [
        ("The Eiffel Tower!", "eiffel tower", 1.0),
        ("an  Apple.", "APPLE", 1.0),
        ("apple pie", "apple", 0.0),  # equality, not containment
        ("", "", 1.0),
        ("", "a", 1.0),  # both normalise to ""
    ],
)
def test_normalised(prediction, reference, score):
    assert normalised(prediction, reference) == score


@pytest.mark.parametrize(
    ("prediction", "reference", "score"),
    [
        ("I think the answer is Paris, France.", "paris", 1.0),
        ("It is the Eiffel Tower.", "Eiffel tower", 1.0),
        ("concatenate", "cat", 0.0),  # whole words: "cat" is not in "concatenate"
        ("Paris", "Paris, France", 0.0),
        ("café au lait", "CAFÉ", 1.0),
        ("anything at all", "", 0.0),  # a blank reference credits nothing...
        ("", "", 1.0),  # ...except a blank prediction
        ("", "paris", 0.0),
    ],
)
def test_contains(prediction, reference, score):
    assert contains(prediction, reference) == score


@pytest.mark.parametrize(
    ("prediction", "reference", "pattern", "score"),
    [
        ("The answer is B.", "", r"answer is [A-D]", 1.0),  # no group: a match is enough
        ("The answer is E.", "", r"answer is [A-D]", 0.0),
        ("The answer is B.", "B", r"answer is ([A-D])", 1.0),  # group 1 must equal reference
        ("The answer is C.", "B", r"answer is ([A-D])", 0.0),
        ("answer is A, no: answer is B", "A", r"answer is ([A-D])", 1.0),  # the first match
        ("ANSWER: yes ", " yes", r"(?i)answer:\s*(\w+)", 1.0),  # inline flags; both stripped
        ("answer:", "x", r"answer:(\d)?", 0.0),  # a group that did not take part
        ("", "", r"^$", 1.0),
        ("数字は42です", "42", r"(\d+)", 1.0),
    ],
)
def test_regex(prediction, reference, pattern, score):
    assert regex(prediction, reference, pattern=pattern) == score


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Natalia sold 48 + 24 = 72 clips.\n#### 72", 72.0),  # GSM8K's answer line
        ("3 + 4 = 7 #### 7 apples, not 8", 7.0),  # the number after ####, not the last one
        ("#### 1 then #### 2", 2.0),  # the last ####
        ("So the total is 18.", 18.0),  # no ####: the last number; a full stop is not a decimal
        ("It costs $1,234.50 in all", 1234.5),  # $ and thousands commas removed
        ("#### $-1,234.50", -1234.5),
        ("The change was -3 degrees", -3.0),
        ("a drop of \u22125", -5.0),  # Unicode minus
        ("pages 3-4", 4.0),  # a hyphen between numbers is not a minus
        ("1, 2, 3", 3.0),  # a comma that is not a thousands separator separates
        ("12,34", 34.0),
        ("x = .5", 0.5),
        ("1/2", 2.0),  # fractions are not parsed
        ("The answer is ####", None),  # #### with no number after it: no answer
        ("no numbers here", None),
        ("", None),
    ],
)
def test_extract_number(text, number):
    assert extract_number(text) == number


@pytest.mark.parametrize(
    ("prediction", "reference", "score"),
    [
        ("48 + 24 = 72\n#### 72", "She sold 72 clips.\n#### 72", 1.0),
        ("The answer is 72.00", "#### 72", 1.0),  # 72.00 == 72
        ("The answer is 1,234.5", "#### 1234.50", 1.0),
        ("#### 71", "#### 72", 0.0),
        ("#### 72\nAnswer: 71", "#### 72", 1.0),  # the #### line decides
        ("I don't know", "#### 72", 0.0),  # no number in the prediction
        ("", "#### 72", 0.0),
        ("-5", "#### -5", 1.0),
        ("5", "#### -5", 0.0),
        ("0", "#### 0", 1.0),
    ],
)
def test_numeric(prediction, reference, score):
    assert numeric(prediction, reference) == score


def test_numeric_tolerance_is_relative():
    """|1000.0005 - 1000| / 1000 = 5e-7, inside the default 1e-6; |1000.002 - 1000| / 1000 =
    2e-6 is outside it but inside 1e-5."""
    assert numeric("1000.0005", "1000") == 1.0
    assert numeric("1000.002", "1000") == 0.0
    assert numeric("1000.002", "1000", tolerance=1e-5) == 1.0


def test_numeric_reference_without_a_number_is_a_data_error():
    with pytest.raises(ValueError, match="reference has no number"):
        numeric("42", "forty-two")


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ("  ```\n[1, 2]\n```\n", "[1, 2]"),  # no info string; surrounding whitespace
        ('```JSON\n{"a": 1}```', '{"a": 1}'),  # closing fence on the last line
        ('Here you go:\n```json\n{"a": 1}\n```', 'Here you go:\n```json\n{"a": 1}\n```'),
        ('{"a": 1}', '{"a": 1}'),
        ('```json\n{"a": 1}\n```\n```json\n{"b": 2}\n```', None),  # two fences: not one
    ],
)
def test_strip_code_fence_unwraps_exactly_one_fence(text, inside):
    if inside is None:
        assert json_valid(text, "") == 0.0
    else:
        assert strip_code_fence(text) == inside


@pytest.mark.parametrize(
    ("prediction", "score"),
    [
        ('{"a": 1}', 1.0),
        ("[1, 2, 3]", 1.0),
        ('"a string"', 1.0),
        ("null", 1.0),
        ('```json\n{"a": 1}\n```', 1.0),  # one fence is unwrapped
        ('Sure! ```json\n{"a": 1}\n```', 0.0),  # prose around it is not JSON
        ("{'a': 1}", 0.0),  # Python, not JSON
        ('{"a": 1,}', 0.0),  # trailing comma
        ("NaN", 0.0),  # Python's json reads it; RFC 8259 does not
        ('{"a": Infinity}', 0.0),
        ('{"a": 1} {"b": 2}', 0.0),  # two values
        ("", 0.0),
        ('{"ville": "Zürich", "emoji": "🙂"}', 1.0),
    ],
)
def test_json_valid(prediction, score):
    assert json_valid(prediction, "ignored") == score


@pytest.mark.parametrize(
    ("prediction", "score"),
    [
        ('{"name": "Ana", "quantity": 3}', 1.0),
        ('```json\n{"name": "Ana", "quantity": 3, "extra": true}\n```', 1.0),
        ('{"name": "Ana"}', 0.0),  # required field missing
        ('{"name": "Ana", "quantity": "3"}', 0.0),  # wrong type
        ('{"name": "Ana", "quantity": 0}', 0.0),  # below the minimum
        ('{"name": "Ana", "quantity": 3', 0.0),  # not JSON at all
    ],
)
def test_json_schema(prediction, score):
    assert json_schema(prediction, "", schema=SCHEMA) == score


def test_json_schema_takes_the_schema_as_json_text_too():
    assert json_schema("[1]", "", schema='{"type": "array"}') == 1.0
    assert json_schema("{}", "", schema='{"type": "array"}') == 0.0


@pytest.mark.parametrize(
    ("prediction", "score"),
    [
        (ORDER, 1.0),
        ("Sure! ```json\n" + ORDER + "\n```", 1.0),  # lenient: the first {...} anywhere
        # city wrong; quantity "12" vs 12 compared as strings, so right: 3 of 4
        ('{"name": "Ana Kim", "city": "Lyon", "product": "oak chairs", "quantity": "12"}', 0.75),
        ('{"name": " Ana Kim ", "city": "porto"}', 0.25),  # stripped; case counts: 1 of 4
        ('{"customer": "Ana Kim", "town": "Porto"}', 0.0),  # wrong keys earn nothing
        ('{"name": "Ana Kim", "address": {"city": "Porto"}}', 0.0),  # nested: not read
        ("I cannot help with orders.", 0.0),
        ("{not json}", 0.0),
        ("", 0.0),
    ],
)
def test_field_accuracy(prediction, score):
    assert field_accuracy(prediction, ORDER) == score


def test_field_accuracy_can_score_only_some_fields():
    reply = '{"name": "Ana Kim", "city": "Lyon"}'
    assert field_accuracy(reply, ORDER, fields=["name", "city"]) == 0.5
    with pytest.raises(ValueError, match="reference must be a JSON object"):
        field_accuracy(reply, ORDER, fields=["colour"])
    with pytest.raises(ValueError, match="reference must be a JSON object"):
        field_accuracy(reply, "[1, 2]")
    with pytest.raises(ValueError):
        field_accuracy(reply, "not json")


def test_rouge_l_worked_example():
    """The longest common subsequence is "the cat on the mat", LCS = 5:
    P = 5/7 (prediction has 7 tokens), R = 5/6 (reference has 6),
    F = 2PR / (P + R) = 2 * 25/42 / (30/42 + 35/42) = 50/65 = 10/13 = 0.769231."""
    assert rouge_l(PREDICTION, REFERENCE) == pytest.approx(10 / 13)
    assert rouge_l(REFERENCE, PREDICTION) == pytest.approx(10 / 13)  # F is symmetric
    assert rouge_l(REFERENCE, REFERENCE) == 1.0


def test_rouge_l_counts_order():
    """The same words shuffled: "mat on sat cat the" against the reference. A common
    subsequence keeps both orders, and none is longer than 2 ("on the", "sat the",
    "cat the"): P = 2/5, R = 2/6, F = 2 * (2/5)(1/3) / (2/5 + 1/3) = (4/15) / (11/15) = 4/11,
    where bag-of-words overlap would give 5/6."""
    assert rouge_l("mat on sat cat the", REFERENCE) == pytest.approx(4 / 11)


@pytest.mark.parametrize(
    ("prediction", "reference", "score"),
    [
        ("The CAT sat", "the cat SAT", 1.0),  # lowercased by rouge-score's tokenizer
        ("the cat, sat!", "the cat sat", 1.0),  # punctuation separates, is no token
        ("", REFERENCE, 0.0),
        ("", "", 0.0),  # nothing to compare: 0, not 1
        ("猫が座った", "猫が座った", 0.0),  # no ASCII letters, no tokens (use bleu)
    ],
)
def test_rouge_l_edges(prediction, reference, score):
    assert rouge_l(prediction, reference) == pytest.approx(score)


def test_bleu_worked_example():
    """Prediction "the cat sat on the mat" against reference "the cat sat on a mat", 6 and 6
    tokens, so the brevity penalty is 1. Clipped n-gram precisions:
      1-grams: the, cat, sat, on, mat match; the second "the" is clipped   5/6
      2-grams: the cat, cat sat, sat on match; on the, the mat do not      3/5
      3-grams: the cat sat, cat sat on match                               2/4
      4-grams: the cat sat on matches                                      1/3
    BLEU = (5/6 * 3/5 * 2/4 * 1/3) ** (1/4) = (1/12) ** (1/4) = 0.537285."""
    assert bleu("the cat sat on the mat", "the cat sat on a mat") == pytest.approx((1 / 12) ** 0.25)


@pytest.mark.parametrize(
    ("prediction", "reference", "score"),
    [
        (REFERENCE, REFERENCE, 1.0),  # clipped: sacrebleu computes 100.00000000000004
        ("a b", "a b", 1.0),  # effective order: shorter than 4 tokens can still be perfect
        ("", REFERENCE, 0.0),
        ("", "", 0.0),
        ("猫が座った", "猫が座った", 1.0),  # Unicode text keeps its tokens
        ("dog", REFERENCE, 0.0),
    ],
)
def test_bleu_edges(prediction, reference, score):
    assert bleu(prediction, reference) == pytest.approx(score)


def test_bleu_is_case_sensitive():
    assert bleu("The cat", "the cat") < 1.0


def test_unknown_scorer_names_the_known_ones_with_a_suggestion():
    with pytest.raises(ConfigError, match=r"unknown scorer 'exat'; did you mean 'exact'\?") as e:
        get_scorer("exat")
    assert "known scorers: exact, normalised" in str(e.value)
    with pytest.raises(ConfigError, match="known scorers") as e:
        get_scorer("perplexity")
    assert "did you mean" not in str(e.value)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("regex", {"patern": "x"}, r"no option 'patern'; did you mean 'pattern'\?"),
        ("exact", {"ignore_case": True}, r"no option 'ignore_case'; known options: \(none\)"),
        ("regex", {}, "needs the option"),
        ("json_schema", {}, "needs the option"),
        ("regex", {"pattern": "(unclosed"}, r"invalid pattern '\(unclosed'"),
        ("json_schema", {"schema": {"type": "nope"}}, "invalid schema"),
        ("json_schema", {"schema": "{not json"}, "schema is not JSON"),
        ("numeric", {"tolerance": -1e-3}, "tolerance must be >= 0"),
    ],
)
def test_bad_options_fail_before_any_prediction(name, options, message):
    with pytest.raises(ConfigError, match=message):
        get_scorer(name, **options)


def test_get_scorer_binds_options():
    score = get_scorer("numeric", tolerance=0.01)
    assert score("#### 101", "#### 100") == 1.0
    assert get_scorer("regex", pattern=r"(\d+)")("got 7", "7") == 1.0
