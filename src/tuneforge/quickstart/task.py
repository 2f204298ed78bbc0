"""The quickstart task: turn a free-text order message into one line of JSON.

A format-and-behaviour task: the base model knows what an order is but answers in prose
or in whatever JSON shape it likes; after a few minutes of LoRA it answers with exactly
the four fields, in order, copied from the message. Generated with a fixed seed, so the
data (and the held-out split the model never trains on) is the same on every machine.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

# The task's scorer is the eval module's; importable from here beside the data it scores.
from tuneforge.eval.scorers import field_accuracy as field_accuracy

FIELDS = ("name", "city", "product", "quantity")
INSTRUCTION = "Extract the order as JSON with the keys name, city, product and quantity."

FIRST = (
    "Maria James Aiko Omar Lena Carlos Priya Tomas Grace Yusuf "
    "Elena Noah Fatima Lucas Ingrid Mateo Chloe Ravi Sofia Erik"
).split()
LAST = (
    "Lopez Smith Tanaka Haddad Berg Silva Patel Novak Kim Demir "
    "Rossi Walker Khan Moreau Larsen Garcia Dubois Iyer Costa Holm"
).split()
CITIES = (
    "Denver Lyon Osaka Porto Leeds Austin Gdansk Turin Quebec "
    "Malmo Bergen Seville Tucson Krakow Ghent Adelaide Halifax Nagoya"
).split()
PRODUCTS = [
    "blue widgets", "steel brackets", "oak chairs", "desk lamps", "paper cups",
    "garden hoses", "wool blankets", "USB cables", "coffee mugs", "rain jackets",
    "brass hinges", "yoga mats", "glass jars", "tennis balls", "canvas bags",
]  # fmt: skip
TEMPLATES = [
    "Hi, this is {name} from {city}. I'd like to order {quantity} {product}, please.",
    "{name} here. Please send {quantity} {product} to our office in {city}.",
    "Order request: {quantity} x {product}. Customer: {name}, shipping to {city}.",
    "Hello! Could you ship {quantity} {product} to {city}? Thanks, {name}",
    "We need {quantity} {product} delivered in {city} by Friday. Contact: {name}.",
    "Good morning, {name} writing from {city}: we want {quantity} more {product}.",
]


@dataclass(frozen=True)
class Order:
    name: str
    city: str
    product: str
    quantity: int

    def message(self, rng: random.Random) -> str:
        return rng.choice(TEMPLATES).format(**self.__dict__)

    def answer(self) -> str:
        return json.dumps({field: getattr(self, field) for field in FIELDS})


def make_examples(n: int, seed: int) -> list[dict]:
    """n OpenAI-chat records (system instruction, user message, assistant JSON)."""
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        order = Order(
            name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            city=rng.choice(CITIES),
            product=rng.choice(PRODUCTS),
            quantity=rng.randint(2, 60),
        )
        records.append(
            {
                "messages": [
                    {"role": "system", "content": INSTRUCTION},
                    {"role": "user", "content": order.message(rng)},
                    {"role": "assistant", "content": order.answer()},
                ]
            }
        )
    return records
