"""A task on which `tuneforge plan` should say fine-tune: free-text US addresses (generated
by Faker, en_US) standardised into a house JSON record by a fixed rule.

    .venv/bin/python benchmarks/plan_address_task.py OUT_DIR
    .venv/bin/tuneforge plan --data OUT_DIR/train.jsonl --eval OUT_DIR/eval.jsonl \
        --quick-tune --output OUT_DIR/plan

The rule, which a 3-shot prompt shows only in part: street and city in Title Case; the unit
designator as its USPS abbreviation (Apt., Apartment, # -> APT; Suite, Ste -> STE; Unit ->
UNIT) with its number, "" when there is none; the state as its two-letter code (Faker's own
name and code tables); the ZIP as its first five digits. The inputs vary case, separators,
state spelling, unit style and ZIP+4. The system prompt states the rule in words, so the
prompting baselines are not handicapped. Deterministic: the same seed writes the same files.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from faker import Faker
from faker.providers.address.en_US import Provider

SEED = 1234
TRAIN, EVAL = 320, 40
STATE_CODE = dict(zip(Provider.states, [c for c in Provider.states_abbr if c != "DC"], strict=True))
UNIT_SPELLINGS = {
    "APT": ["Apt. {n}", "Apt {n}", "Apartment {n}", "#{n}", "apt {n}"],
    "STE": ["Suite {n}", "Ste {n}", "Ste. {n}", "suite {n}"],
    "UNIT": ["Unit {n}", "unit {n}"],
}
LAYOUTS = ["{a}, {c}, {s} {z}", "{a}\n{c}, {s} {z}", "{a}, {c} {s} {z}", "{a} - {c}, {s}, {z}"]
SYSTEM = (
    "Standardise the US address into our address record. Reply with JSON only, with the keys "
    "street, unit, city, state, zip: street and city in Title Case, unit as APT, STE or UNIT "
    "and its number (empty when none), state as its two-letter code, zip as five digits."
)


def example(fake: Faker, rng: random.Random) -> dict:
    street = f"{fake.building_number()} {fake.street_name()}"
    city, state = fake.city(), rng.choice(Provider.states)
    zip5 = fake.postcode_in_state(STATE_CODE[state])[:5]
    unit, written_unit = "", ""
    if rng.random() < 0.5:
        kind, number = rng.choice(list(UNIT_SPELLINGS)), str(rng.randint(1, 999))
        unit, written_unit = f"{kind} {number}", rng.choice(UNIT_SPELLINGS[kind]).format(n=number)
    written_state = state if rng.random() < 0.6 else STATE_CODE[state]
    written_zip = zip5 + (f"-{rng.randint(0, 9999):04d}" if rng.random() < 0.4 else "")
    joined = rng.random() < 0.5 or not written_unit
    line = f"{street} {written_unit}".strip() if joined else f"{street}, {written_unit}"
    text = rng.choice(LAYOUTS).format(a=line, c=city, s=written_state, z=written_zip)
    text = rng.choice([text, text, text.lower(), text.upper()])
    record = {
        "street": street.title(),
        "unit": unit,
        "city": city.title(),
        "state": STATE_CODE[state],
        "zip": zip5,
    }
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": text},
        {"role": "assistant", "content": json.dumps(record)},
    ]
    return {"messages": messages}


def main(out: Path) -> None:
    fake, rng = Faker("en_US"), random.Random(SEED)
    fake.seed_instance(SEED)
    rows = [example(fake, rng) for _ in range(TRAIN + EVAL)]
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train.jsonl", rows[:TRAIN]), ("eval.jsonl", rows[TRAIN:])):
        with open(out / name, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row) + "\n" for row in part)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
