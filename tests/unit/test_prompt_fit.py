"""Long prompts fit their budget by whole turns, oldest first, the system message kept."""

from __future__ import annotations

from tuneforge.data.prompt_fit import PromptFitter, fit_prompts, prompt_budget
from tuneforge.data.records import Message, PreferenceExample


def turns(*pairs: tuple[str, str]) -> tuple[Message, ...]:
    return tuple(Message(role, text, 0) for role, text in pairs)


def reply(text: str) -> tuple[Message, ...]:
    return (Message("assistant", text),)


def test_budget_is_what_the_reply_leaves_but_at_least_half():
    assert prompt_budget(reply_tokens=10, max_length=100, max_prompt_length=None) == 90
    assert prompt_budget(reply_tokens=80, max_length=100, max_prompt_length=None) == 50
    assert prompt_budget(reply_tokens=10, max_length=100, max_prompt_length=30) == 30


def test_oldest_turns_go_first_and_the_system_message_stays(tokenizer):
    fitter = PromptFitter(tokenizer)
    prompt = turns(
        ("system", "Be brief."),
        ("user", "first question " * 20),
        ("assistant", "first answer " * 20),
        ("user", "Last question?"),
    )
    budget = fitter.prompt_tokens(turns(("system", "Be brief."), ("user", "Last question?")))
    fitted = fitter.fit(prompt, budget)
    assert [m.content for m in fitted] == ["Be brief.", "Last question?"]
    assert fitter.fit(prompt, 10_000) is prompt  # already fits: untouched


def test_kept_turns_start_at_a_user_turn(tokenizer):
    fitter = PromptFitter(tokenizer)
    prompt = turns(("user", "a " * 50), ("assistant", "b " * 5), ("user", "c " * 5))
    # Room for the assistant and last user turn, but a prompt may not open on an assistant.
    budget = fitter.prompt_tokens(prompt[1:])
    fitted = fitter.fit(prompt, budget)
    assert [m.role for m in fitted] == ["user"]
    assert fitter.prompt_tokens(fitted) <= budget


def test_a_single_long_turn_keeps_its_end_within_the_budget(tokenizer):
    fitter = PromptFitter(tokenizer)
    words = " ".join(f"w{i}" for i in range(300))
    prompt = turns(("system", "Rules."), ("user", words))
    fitted = fitter.fit(prompt, 60)
    assert fitted[0].content == "Rules."
    assert words.endswith(fitted[1].content)
    assert fitter.prompt_tokens(fitted) <= 60
    assert fitter.prompt_tokens(fitted) >= 50  # cut to the budget, not far below it


def test_a_system_message_over_the_budget_cannot_fit(tokenizer):
    fitter = PromptFitter(tokenizer)
    prompt = turns(("system", "rule " * 200), ("user", "Hi"))
    assert fitter.fit(prompt, 40) is None


def test_fit_prompts_counts_what_it_shortened_and_dropped(tokenizer):
    short = PreferenceExample(turns(("user", "Hi")), reply("Red."), reply("No."))
    long = PreferenceExample(turns(("user", "word " * 300)), reply("Red."), reply("No."))
    hopeless = PreferenceExample(
        turns(("system", "rule " * 300), ("user", "Hi")), reply("Red."), reply("No.")
    )
    fitted, report = fit_prompts([short, long, hopeless], tokenizer, 64, None, "template")
    assert (report.shortened, report.dropped) == (1, 1)
    assert fitted[0] is short
    assert PromptFitter(tokenizer).prompt_tokens(fitted[1].prompt) <= 64 - 4


def test_a_giant_prompt_costs_memory_by_the_budget_not_its_size(tokenizer):
    giant = "word " * 2_000_000  # 10 MB in one turn
    pair = PreferenceExample(turns(("user", giant + "the question?")), reply("Red."), reply("No."))
    (fitted,), report = fit_prompts([pair], tokenizer, 64, None, "template")
    assert report.shortened == 1
    assert fitted.prompt[0].content.endswith("the question?")
    assert len(fitted.prompt[0].content) < 1000
