"""The parts `data prepare` is built from, one at a time: MinHash and LSH, duplicate
clusters, text normalisation and quality rules, serialisation, the split and its
leakage check, and the PII patterns that must not fire on code."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.helpers import WORDS
from tuneforge.config.prepare import QualityConfig
from tuneforge.data.clean import QualityFilter, normalise_text, repetition_ratio, symbol_ratio
from tuneforge.data.dedup import kept_mask, near_duplicate_groups
from tuneforge.data.minhash import (
    band_hashes,
    estimated_jaccard,
    lsh_params,
    shingle_hashes,
    signatures,
)
from tuneforge.data.pii import find_pii, scrub
from tuneforge.data.prepare.split import assign_splits, leaks
from tuneforge.data.records import (
    ChatExample,
    CompletionExample,
    FeedbackExample,
    Message,
    PreferenceExample,
    TextExample,
    parse_record,
)
from tuneforge.data.serialise import to_json

# --- minhash ---------------------------------------------------------------------------

VOCAB = [f"w{i}" for i in range(500)]


def shingle_set(text: str, size: int = 5) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def exact_jaccard(a: str, b: str) -> float:
    sa, sb = shingle_set(a), shingle_set(b)
    return len(sa & sb) / len(sa | sb)


def planted_pairs(n_pairs: int = 40, n_words: int = 250) -> list[tuple[str, str]]:
    """Pairs from identical to mostly rewritten: pair i has a growing share of words replaced."""
    rng = random.Random(11)
    pairs = []
    for i in range(n_pairs):
        words = [rng.choice(VOCAB) for _ in range(n_words)]
        edited = list(words)
        for position in rng.sample(range(n_words), round(n_words * 0.3 * i / n_pairs)):
            edited[position] = rng.choice(VOCAB)
        pairs.append((" ".join(words), " ".join(edited)))
    return pairs


def test_identical_texts_have_identical_signatures():
    text = " ".join(VOCAB[:80])
    other = " ".join(VOCAB[1:81])
    sig = signatures([text, text, other], num_perm=128, shingle_size=5)
    assert sig.shape == (3, 128)
    assert np.array_equal(sig[0], sig[1])
    assert not np.array_equal(sig[0], sig[2])


def test_case_and_spacing_do_not_change_the_signature():
    sig = signatures(["The cat sat on the mat today", "the  CAT sat\non the mat   today"])
    assert estimated_jaccard(sig[0], sig[1]) == 1.0


def test_estimated_jaccard_tracks_the_exact_jaccard_of_shingles():
    pairs = planted_pairs()
    exact = np.array([exact_jaccard(a, b) for a, b in pairs])
    sig = signatures([t for pair in pairs for t in pair], num_perm=128, shingle_size=5)
    estimated = np.array([estimated_jaccard(sig[2 * i], sig[2 * i + 1]) for i in range(len(pairs))])
    assert exact.max() == 1.0 and exact.min() < 0.2  # the pairs do span the range
    errors = estimated - exact
    assert np.abs(errors).max() < 0.1, list(zip(exact.round(3), estimated.round(3), strict=True))
    assert abs(errors.mean()) < 0.03  # unbiased, not just close


def test_lsh_params_separate_pairs_around_the_threshold():
    bands, rows = lsh_params(0.8, 128)
    assert bands * rows <= 128

    def candidate(s: float) -> float:
        return 1 - (1 - s**rows) ** bands

    assert candidate(0.5) < 0.2
    assert candidate(0.9) > 0.9
    assert candidate(0.5) < candidate(0.7) < candidate(0.8) < candidate(0.9)


def test_short_texts_sharing_a_prefix_are_rarely_lsh_candidates():
    """Pairs of 18-word texts sharing their first 8 words: Jaccard about 0.17, where the
    S-curve of lsh_params(0.8, 128) gives a candidate probability below 1e-8."""
    rng = random.Random(1)
    texts = []
    for _ in range(300):
        prefix = [rng.choice(WORDS) for _ in range(8)]
        for _ in range(2):
            texts.append(" ".join(prefix + [rng.choice(WORDS) for _ in range(10)]))
    exact = [exact_jaccard(texts[i], texts[i + 1]) for i in range(0, len(texts), 2)]
    assert 0.1 < np.mean(exact) < 0.25
    bands = band_hashes(signatures(texts, 128, 5), *lsh_params(0.8, 128))
    candidates = (bands[0::2] == bands[1::2]).any(axis=1)
    assert candidates.mean() < 0.01  # observed: 0.13


def test_text_shorter_than_a_shingle_gives_one_hash():
    short = shingle_hashes("three little words", 5)
    assert short.shape == (1,)
    assert np.array_equal(shingle_hashes("THREE little  words", 5), short)
    assert not np.array_equal(shingle_hashes("three little birds", 5), short)
    assert shingle_hashes("one two three four five six seven", 5).shape == (3,)


# --- dedup -----------------------------------------------------------------------------


def test_kept_mask_keeps_first_or_longest_member_of_each_group():
    groups = np.array([0, 0, 2, 2, 2, 5])
    lengths = np.array([3, 9, 4, 4, 1, 7])
    assert kept_mask(groups, lengths, "first").tolist() == [1, 0, 1, 0, 0, 1]
    # group 2 ties between records 2 and 3: the first of the longest wins
    assert kept_mask(groups, lengths, "longest").tolist() == [0, 1, 1, 0, 0, 1]


def test_near_duplicate_groups_join_transitively_across_bands():
    bands = np.array(
        [
            [1, 10],  # a
            [1, 20],  # b: shares band 0 with a
            [2, 20],  # c: shares band 1 with b, nothing with a
            [3, 30],  # d: alone
            [4, 40],  # e: alone
        ],
        dtype=np.uint64,
    )
    groups = near_duplicate_groups(bands)
    assert groups.tolist() == [0, 0, 0, 3, 4]


def test_near_duplicate_groups_join_a_chain_listed_out_of_order():
    # c ~ b in band 0, b ~ a in band 1, a first in neither sort
    bands = np.array([[9, 5], [7, 5], [7, 6]], dtype=np.uint64)
    assert near_duplicate_groups(bands).tolist() == [0, 0, 0]


# --- clean -----------------------------------------------------------------------------


def test_normalise_text():
    assert normalise_text("cafe\u0301") == "caf\u00e9"  # NFC
    assert normalise_text("zero\u200bwidth\ufeff joiner\u200d") == "zerowidth joiner"
    assert normalise_text("one\r\ntwo\rthree") == "one\ntwo\nthree"
    assert normalise_text("trailing  \t\nspaces") == "trailing\nspaces"
    assert normalise_text("a\n\n\n\n\nb\n\nc") == "a\n\nb\n\nc"
    assert normalise_text("  \n padded text \n\n") == "padded text"
    assert normalise_text("  e\u0301te\u200b\r\nline  \r\n\n\n\nend \n") == "\u00e9te\nline\n\nend"


def test_repetition_ratio_of_a_looping_reply_and_of_prose():
    looping = ("the cat sat on the mat " * 10).split()  # 60 words, 58 trigrams, 6 distinct
    assert repetition_ratio(looping) == pytest.approx(52 / 58)
    prose = "The quick brown fox jumps over the lazy dog and runs far away".split()
    assert repetition_ratio(prose) == 0.0
    assert repetition_ratio("a a a".split()) == 0.0  # too short to judge


def test_symbol_ratio():
    assert symbol_ratio("a+b") == pytest.approx(1 / 3)
    assert symbol_ratio("$$$ %%%") == pytest.approx(6 / 7)
    assert symbol_ratio("plain words 42") == 0.0
    assert symbol_ratio("") == 0.0


PROMPT = "What is the capital of France?"


@pytest.mark.parametrize(
    ("rules", "reply", "reason"),
    [
        (QualityConfig(min_reply_words=3), "Paris, obviously", "short reply"),
        (QualityConfig(), "", "short reply"),
        (QualityConfig(), "what is  the CAPITAL of france?", "reply repeats the prompt"),
        (QualityConfig(), "the cat sat on the mat " * 10, "repetitive reply"),
        (QualityConfig(), "$$$ %%% ^^^ &&& ***", "mostly symbols"),
        (
            QualityConfig(drop_refusals=True),
            "As an AI language model, I cannot help with that.",
            "refusal boilerplate",
        ),
        (
            QualityConfig(drop_refusals=True),
            "I'm sorry, but I can't do that.",
            "refusal boilerplate",
        ),
        (QualityConfig(), "As an AI language model, I cannot help with that.", None),
        (QualityConfig(drop_echo=False), "What is the capital of France?", None),
        (QualityConfig(min_reply_words=3), "The capital is Paris.", None),
    ],
)
def test_quality_filter_reasons(rules, reply, reason):
    assert QualityFilter(rules).reason_to_drop(reply, PROMPT) == reason


def test_blocklist_matches_whole_words_case_insensitively():
    quality = QualityFilter(QualityConfig(blocklist=("Foo", "bad phrase")))
    assert quality.blocked("a foo b")
    assert quality.blocked("FOO.")
    assert quality.blocked("this is A Bad Phrase here")
    assert not quality.blocked("food for thought")
    assert not quality.blocked("a badphrase b")
    assert not QualityFilter(QualityConfig()).blocked("a foo b")


# --- serialise -------------------------------------------------------------------------

TOOL = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
CALL = [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]
PAIR_PROMPT = (Message("user", "Which is better?", weight=0),)  # prompts parse as weight 0


def round_trip(example):
    return parse_record(to_json(example), "out.jsonl", 1)


def test_chat_example_round_trips():
    example = ChatExample(
        (
            Message("system", "Be brief."),
            Message("user", "Weather in Paris?"),
            Message("assistant", "An old guess.", weight=0),
            Message("assistant", "", extra={"tool_calls": CALL}),
            Message("tool", "18C", extra={"tool_call_id": "c1"}),
            Message("assistant", "It is 18C."),
        ),
        tools=(TOOL,),
    )
    record = to_json(example)
    assert record["messages"][2]["weight"] == 0
    assert "content" not in record["messages"][3]
    assert round_trip(example) == example


@pytest.mark.parametrize(
    "example",
    [
        CompletionExample("Q: 2+2?\nA:", " 4"),
        TextExample("Plain text to continue."),
        PreferenceExample(
            PAIR_PROMPT, (Message("assistant", "Good."),), (Message("assistant", "Bad."),)
        ),
        FeedbackExample(PAIR_PROMPT, (Message("assistant", "Good."),), desirable=True),
        FeedbackExample(PAIR_PROMPT, (Message("assistant", "Bad."),), desirable=False),
    ],
    ids=["completion", "text", "preference", "feedback-desirable", "feedback-undesirable"],
)
def test_example_round_trips(example):
    assert round_trip(example) == example


@pytest.mark.parametrize(
    ("margin", "tools"), [(1.5, None), (None, (TOOL,))], ids=["margin", "tools"]
)
def test_preference_example_with_margin_or_tools_round_trips(margin, tools):
    chosen, rejected = (Message("assistant", "Good."),), (Message("assistant", "Bad."),)
    example = PreferenceExample(PAIR_PROMPT, chosen, rejected, margin, tools)
    assert round_trip(example) == example


# --- split -----------------------------------------------------------------------------


def test_assign_splits_sizes_follow_the_fractions():
    splits = assign_splits(np.arange(1000), (0.8, 0.1, 0.1), seed=0)
    assert np.bincount(splits, minlength=3).tolist() == [800, 100, 100]
    splits = assign_splits(np.arange(1000), (0.7, 0.2, 0.1), seed=0)
    assert np.bincount(splits, minlength=3).tolist() == [700, 200, 100]


def test_assign_splits_is_fixed_by_the_seed():
    groups = np.arange(1000)
    first = assign_splits(groups, (0.8, 0.1, 0.1), seed=4)
    assert np.array_equal(first, assign_splits(groups, (0.8, 0.1, 0.1), seed=4))
    assert not np.array_equal(first, assign_splits(groups, (0.8, 0.1, 0.1), seed=5))


def test_records_of_a_group_share_a_split():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(300), rng.integers(1, 6, size=300))
    rng.shuffle(groups)
    splits = assign_splits(groups, (0.8, 0.1, 0.1), seed=1)
    for group in np.unique(groups):
        assert len(set(splits[groups == group].tolist())) == 1, group
    counts = np.bincount(splits, minlength=3)
    # whole groups of at most 5 fill validation and test, so they overshoot by < 5
    for split, fraction in ((1, 0.1), (2, 0.1)):
        assert 0 <= counts[split] - round(len(groups) * fraction) < 5


def test_leaks_counts_records_sharing_a_key_across_splits():
    splits = np.array([0, 0, 1, 2, 0], dtype=np.int8)
    digests = np.arange(5, dtype=np.uint64)
    shared_in_train = np.array([7, 7, 8, 9, 7], dtype=np.uint64)  # 7 only within train
    keys = np.column_stack([digests, shared_in_train])
    assert leaks(splits, keys) == 0
    crossing = np.array([1, 2, 2, 3, 4], dtype=np.uint64)  # records 1 (train) and 2 (val)
    assert leaks(splits, np.column_stack([digests, shared_in_train, crossing])) == 2
    all_three = np.array([5, 5, 5, 6, 5], dtype=np.uint64)  # 0, 1, 4 in train; 2 in val
    assert leaks(splits, np.column_stack([digests, all_three])) == 4


# --- pii -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "reverseList :: List a -> List a",
        "std::vector<int> v;",
        "using std::string; std::map<int, int>::iterator it;",
        "f :: Int -> Int -> Int",
        "dead::beef",
    ],
)
def test_code_with_double_colons_is_not_an_ip_address(code):
    assert [span.kind for span in find_pii(code)] == []


def test_ipv6_address_is_found():
    text = "server at 2a00:1450:4001:82b::200e today"
    assert [span.kind for span in find_pii(text)] == ["IP_ADDRESS"]
    assert scrub(text)[0] == "server at <IP_ADDRESS> today"
