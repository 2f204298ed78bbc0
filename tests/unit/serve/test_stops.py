from __future__ import annotations

from tuneforge.serve.stops import StopMatcher


def feed_all(matcher: StopMatcher, pieces: list[str]) -> list[str]:
    return [matcher.feed(p) for p in pieces]


def test_no_stops_passes_text_through():
    m = StopMatcher([])
    assert feed_all(m, ["ab", "c"]) == ["ab", "c"]
    assert m.flush() == "" and not m.stopped


def test_stop_inside_one_piece_is_not_emitted():
    m = StopMatcher(["END"])
    assert m.feed("helloENDworld") == "hello"
    assert m.stopped
    assert m.feed("more") == "" and m.flush() == ""


def test_stop_split_across_pieces_is_held_back_then_dropped():
    m = StopMatcher(["</end>"])
    out = feed_all(m, ["hi <", "/e", "nd", ">tail"])
    assert out == ["hi ", "", "", ""]
    assert m.stopped


def test_held_text_released_when_it_turns_out_not_to_be_a_stop():
    m = StopMatcher(["</end>"])
    assert m.feed("a </e") == "a "
    assert m.feed("x") == "</ex"
    assert not m.stopped


def test_flush_releases_held_text_at_the_end():
    m = StopMatcher(["STOP"])
    assert m.feed("go ST") == "go "
    assert m.flush() == "ST"


def test_earliest_of_several_stops_wins():
    m = StopMatcher(["bb", "a"])
    assert m.feed("xxbbya") == "xx"


def test_empty_stop_string_is_ignored():
    m = StopMatcher([""])
    assert m.feed("abc") == "abc"
