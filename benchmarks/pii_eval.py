"""Precision and recall of `tuneforge.data.pii` per type, on a labelled set that Faker
writes, and precision on ordinary prose.

    python benchmarks/pii_eval.py                       # 200 texts per locale, seed 0
    python benchmarks/pii_eval.py --per-locale 50 --show 20

The labelled set: for each of 10 Faker locales, texts built from sentence shapes (prose,
forms, lists, chat, JSON, local-language framings) with Faker's names, addresses, phone
numbers, emails, IBANs, cards, IPs and SSNs in them, plus adversarial texts that look like
personal data and are not (dates, times, versions, ZIP codes, order numbers, ISBNs, sums,
code, reserved example domains and documentation IPs, Luhn-failing cards), plus the
hand-written cases of tests/data/pii_labelled.jsonl.

Matching rule (span level): a detection is a true positive when it has the labelled span's
kind and their overlap is at least half of the shorter of the two (a street found without
its city, or a name without its "Dr."); each labelled span matches at most one detection.
Other detections are false positives; unmatched labelled spans are false negatives. The
exact-boundary rate (same start and end) is printed beside it.

Ordinary prose: /work/shared/data (Alpaca instructions and replies, Wikipedia articles)
is read where it exists, never copied. Every detection there is printed with `--show` for
a hand check; the script itself counts each one as a false positive.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import get_args

from faker import Faker

from tuneforge.config.prepare import PiiType

ROOT = Path(__file__).resolve().parents[1]
HAND_WRITTEN = ROOT / "tests" / "data" / "pii_labelled.jsonl"
PROSE = {
    "alpaca": ROOT.parent / "shared/data/sft/fastchat_alpaca_data_cleaned_1000.json",
    "wikipedia": ROOT.parent / "shared/data/pretrain_text/wiki_demo.txt",
}
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL", "sv_SE")
KINDS = get_args(PiiType)


@dataclass
class Example:
    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    """(kind, start, end) of the personal data in `text`."""


# --- values -----------------------------------------------------------------------------

CARD_TYPES = ("visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners", "jcb15",
              "jcb16", "maestro")  # fmt: skip
DOC_IPS = ("192.0.2.{}", "198.51.100.{}", "203.0.113.{}", "2001:db8::{:x}", "2001:db8:0:1::{:x}")
DOC_NETWORKS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24",
                                                  "203.0.113.0/24", "2001:db8::/32")]  # fmt: skip


def card(fake: Faker, rng: random.Random) -> str:
    number = fake.credit_card_number(card_type=rng.choice(CARD_TYPES))
    style = rng.random()
    if style < 0.4:
        return number
    sep = " " if style < 0.75 else "-"
    if len(number) in (14, 15) and rng.random() < 0.8:  # Amex and Diners print 4-6-5/4-6-4
        return sep.join((number[:4], number[4:10], number[10:]))
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def iban(fake: Faker, rng: random.Random) -> str:
    number = fake.iban()
    if rng.random() < 0.5:
        return number
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def ip(fake: Faker, rng: random.Random) -> str:
    while True:
        roll = rng.random()
        if roll < 0.4:
            value = fake.ipv4_public()
        elif roll < 0.6:
            value = fake.ipv4_private()
        else:
            value = fake.ipv6()
            if rng.random() < 0.5:
                value = ipaddress.ip_address(value).compressed
        if not any(ipaddress.ip_address(value) in n for n in DOC_NETWORKS):
            return value


def email(fake: Faker, rng: random.Random) -> str:
    # fake.email() uses RFC 2606 example domains, which are not personal data
    return fake.free_email() if rng.random() < 0.6 else fake.company_email()


def name(fake: Faker, rng: random.Random) -> str:
    return fake.name() if rng.random() < 0.7 else f"{fake.first_name()} {fake.last_name()}"


def address(fake: Faker, rng: random.Random) -> str:
    lines = (fake.street_address() if rng.random() < 0.6 else fake.address()).splitlines()
    return ("\n" if rng.random() < 0.2 else ", ").join(line.strip() for line in lines)


def credential_url(fake: Faker, rng: random.Random) -> str:
    scheme = rng.choice(("https", "postgres", "mysql", "ftp", "redis", "amqp"))
    password = fake.password(length=rng.randint(8, 14), special_chars=False)
    return f"{scheme}://{fake.user_name()}:{password}@{fake.domain_name()}/{fake.uri_path()}"


def ssn(fake: Faker, rng: random.Random) -> str:
    """Called with an en_US Faker: other locales' `ssn()` are their national IDs."""
    value = fake.ssn()
    return value.replace("-", " ") if rng.random() < 0.1 else value


VALUES = {
    "EMAIL": email,
    "PHONE": lambda fake, rng: fake.phone_number(),
    "CREDIT_CARD": card,
    "IBAN": iban,
    "IP_ADDRESS": ip,
    "SSN": ssn,
    "URL_WITH_CREDENTIALS": credential_url,
    "STREET_ADDRESS": address,
    "PERSON": name,
}


# --- sentence shapes --------------------------------------------------------------------
# {KIND} is a labelled value, {filler} is text that is not personal data.

SHAPES = (
    "You can reach {PERSON} at {PHONE} or {EMAIL}.",
    "Please call me back on {PHONE} when you get this.",
    "My number is {PHONE}, text me anytime",
    "Contact: {PERSON} <{EMAIL}>",
    "Name: {PERSON}\nPhone: {PHONE}\nEmail: {EMAIL}\nAddress: {STREET_ADDRESS}",
    "{PERSON}, {STREET_ADDRESS}, {PHONE}",
    '{{"name": "{PERSON}", "email": "{EMAIL}", "phone": "{PHONE}"}}',
    "Ship the order to {STREET_ADDRESS} before {weekday}.",
    "We moved! Our new address is {STREET_ADDRESS}.",
    "{PERSON} lives at {STREET_ADDRESS} with two cats.",
    "Invoice recipient: {PERSON}, {STREET_ADDRESS}",
    "Yesterday {PERSON} told the {job} that the {noun} was late.",
    "I spoke with {PERSON} about the {noun} and {PERSON} agreed.",
    "Dear {PERSON},\n\nthank you for your {noun}. {sentence}",
    "Best regards,\n{PERSON}\n{job}, {company}",
    "According to {PERSON}, the {noun} will ship in {month}.",
    "hey its {PERSON}, my cell is {PHONE} lol",
    "Forwarding this from {EMAIL}: {sentence}",
    "Send the report to {EMAIL} and cc {EMAIL}.",
    "Pay with card {CREDIT_CARD}, expiry {expiry}, CVV {cvv}.",
    "The charge on {CREDIT_CARD} was refunded on {date}.",
    "card: {CREDIT_CARD}",
    "Please wire {amount} to IBAN {IBAN} (account holder {PERSON}).",
    "Bank details: {IBAN}",
    "Refund to {IBAN} was sent on {date}.",
    "Failed login for admin from {IP_ADDRESS} at {time}.",
    '{IP_ADDRESS} - - [{date}] "GET /{word} HTTP/1.1" 200 {small}',
    "The VPN assigns {IP_ADDRESS}; the gateway is {IP_ADDRESS}.",
    "ssh deploy@{IP_ADDRESS} -p {port}",
    "My SSN is {SSN}, please keep it private.",
    "Applicant {PERSON}, SSN {SSN}, born {date}.",
    "SSN: {SSN}",
    "Set DATABASE_URL={URL_WITH_CREDENTIALS} before starting.",
    "The leaked config had {URL_WITH_CREDENTIALS} in it.",
    "{sentence} Call {PHONE} for details.",
    "{PERSON} ({PHONE}) will bring the {noun}.",
    "Emergency contact: {PERSON}, {PHONE}",
    "Questions? {EMAIL} or {PHONE}. {sentence}",
    "Meet {PERSON} at {STREET_ADDRESS} at {time}.",
    "The {noun} was delivered to {STREET_ADDRESS} on {date}.",
)
LOCAL_SHAPES = {
    "de": ("Bitte rufen Sie {PERSON} unter {PHONE} an.", "Tel.: {PHONE}, E-Mail: {EMAIL}",
           "Lieferadresse: {STREET_ADDRESS}", "Kontoinhaber {PERSON}, IBAN {IBAN}"),
    "fr": ("Vous pouvez joindre {PERSON} au {PHONE}.", "Adresse : {STREET_ADDRESS}",
           "Tél. : {PHONE} — courriel : {EMAIL}", "Virement sur le compte {IBAN}, merci."),
    "es": ("Llame a {PERSON} al {PHONE}.", "Dirección: {STREET_ADDRESS}",
           "Mi correo es {EMAIL} y mi móvil {PHONE}.", "Transfiera a la cuenta {IBAN}."),
    "it": ("Chiamare {PERSON} al numero {PHONE}.", "Indirizzo: {STREET_ADDRESS}",
           "Scrivete a {EMAIL} oppure telefonate al {PHONE}.", "Bonifico su IBAN {IBAN}."),
    "nl": ("Bel {PERSON} op {PHONE}.", "Adres: {STREET_ADDRESS}",
           "Mail naar {EMAIL} of bel {PHONE}.", "Maak het bedrag over naar {IBAN}."),
    "pt": ("Ligue para {PERSON} no {PHONE}.", "Endereço: {STREET_ADDRESS}",
           "Meu e-mail é {EMAIL} e meu celular {PHONE}.", "Transferir para {IBAN}."),
    "pl": ("Proszę dzwonić do {PERSON} pod numer {PHONE}.", "Adres: {STREET_ADDRESS}",
           "Napisz na {EMAIL} lub zadzwoń {PHONE}.", "Przelew na konto {IBAN}."),
    "sv": ("Ring {PERSON} på {PHONE}.", "Adress: {STREET_ADDRESS}",
           "Mejla {EMAIL} eller ring {PHONE}.", "Betala till {IBAN}."),
}  # fmt: skip
# Texts that look like personal data and are not: each must come out untouched.
ADVERSARIAL = (
    "The meeting is on {date} at {time}.",
    "Released version {version} on {date}; see the changelog.",
    "Order #{order} shipped on {date} to ZIP {postcode}.",
    "Your order number is {order_long}. Tracking: {tracking}.",
    "ISBN {isbn} (paperback), ISBN-10 {isbn10}.",
    "Compute {long_number} + {small} and then {long_number} * 3.",
    "x = {long_number} - {long_number}",
    "The population grew from {big} to {big} between {year}-{year}.",
    "It costs {amount} ({percent} off) until {date}.",
    "Write to {reserved_email} for the demo account.",
    "Examples use {doc_ip} and {doc_ip}; never real hosts.",
    "Bind to 127.0.0.1:{port} or 0.0.0.0 in development.",
    "for i in range({big_plain}): total += arr[i] * {small}",
    "The card {bad_card} fails the checksum.",
    "Postal code {postcode}, {city}.",
    "Coordinates {lat}, {lon}.",
    "Unix time {timestamp} is in {year}.",
    "The {year} {company} merger cost {amount}.",
    "In {month} {year}, the {noun} of {city} doubled.",
    "Build {version} fixed issue #{small} (see PR {order}).",
    "Room {small}, floor {tiny}, desk {tiny}.",
    "{sentence}",
    "The {year} Wall Street crash ruined many investors.",
    "Chapter {tiny} covers Main Street economics and the {company} case.",
    "Score: {tiny}-{tiny}, attendance {big}.",
    "Tel Aviv and New York are {small} km apart.",
)


def _luhn_broken(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def _filler(fake: Faker, rng: random.Random) -> dict[str, Callable[[], object]]:
    """Makers of the lowercase slots' values, none of them personal data."""
    return {
        "date": lambda: fake.date(
            pattern=rng.choice(("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y"))
        ),
        "time": lambda: fake.time(pattern=rng.choice(("%H:%M", "%H:%M:%S", "%I:%M %p"))),
        "weekday": lambda: fake.day_of_week(),
        "month": lambda: fake.month_name(),
        "year": lambda: rng.randint(1900, 2030),
        "version": lambda: ".".join(
            str(rng.randint(0, 20)) for _ in range(rng.choice((2, 3, 3, 4)))
        ),
        "order": lambda: rng.randint(1000, 999999),
        "order_long": lambda: f"{rng.choice(('A', 'ORD-', '', '#'))}{rng.randint(10**6, 10**10)}",
        "tracking": lambda: f"1Z{rng.randint(10**15, 10**16 - 1)}",
        "postcode": lambda: fake.postcode(),
        "isbn": lambda: fake.isbn13(),
        "isbn10": lambda: fake.isbn10(),
        "long_number": lambda: rng.randint(10**14, 10**15 - 1),
        "small": lambda: rng.randint(2, 9999),
        "tiny": lambda: rng.randint(1, 30),
        "big": lambda: (
            f"{rng.randint(1, 999)}{rng.choice((',', ' ', '.'))}{rng.randint(0, 999):03d}"
            f"{rng.choice((',', ' ', '.'))}{rng.randint(0, 999):03d}"
        ),
        "big_plain": lambda: rng.choice((10**6, 10**7, 123456789, 1000000007)),
        "amount": lambda: fake.pricetag(),
        "percent": lambda: f"{rng.randint(1, 90)}%",
        "reserved_email": lambda: (
            f"{fake.user_name()}@"
            + rng.choice(
                (
                    "example.com",
                    "example.org",
                    "mail.example.net",
                    "corp.test",
                    "x.invalid",
                    "host.example",
                    "dev.localhost",
                )
            )
        ),  # fmt: skip
        "doc_ip": lambda: rng.choice(DOC_IPS).format(rng.randint(1, 254)),
        "port": lambda: rng.randint(1024, 65535),
        "bad_card": lambda: _luhn_broken(fake.credit_card_number(card_type="visa16")),
        "city": lambda: fake.city(),
        "lat": lambda: fake.latitude(),
        "lon": lambda: fake.longitude(),
        "timestamp": lambda: rng.randint(10**9, 2 * 10**9),
        "company": lambda: fake.company(),
        "noun": lambda: fake.word(),
        "word": lambda: fake.word(),
        "job": lambda: fake.job().lower(),
        "sentence": lambda: fake.sentence(nb_words=rng.randint(6, 14)),
        "expiry": lambda: f"{rng.randint(1, 12):02d}/{rng.randint(25, 32)}",
        "cvv": lambda: f"{rng.randint(0, 999):03d}",
    }


_SLOT = re.compile(r"\{(\w+)\}|\{\{|\}\}")


def fill(shape: str, fake: Faker, us: Faker, rng: random.Random) -> Example:
    fillers = _filler(fake, rng)
    example, last = Example(""), 0
    parts: list[str] = []
    for slot in _SLOT.finditer(shape):
        parts.append(shape[last : slot.start()])
        last = slot.end()
        key = slot.group(1)
        if key is None:
            parts.append(slot.group(0)[0])
        elif key in VALUES:
            value = VALUES[key](us if key == "SSN" else fake, rng)
            start = sum(map(len, parts))
            example.spans.append((key, start, start + len(value)))
            parts.append(value)
        else:
            parts.append(str(fillers[key]()))
    example.text = "".join(parts) + shape[last:]
    return example


def generate(per_locale: int, seed: int = 0) -> list[Example]:
    """`per_locale` positive texts and a third as many adversarial ones per locale."""
    rng = random.Random(seed)
    us = Faker("en_US")
    us.seed_instance(seed)
    examples = []
    for i, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + i)
        shapes = SHAPES + LOCAL_SHAPES.get(locale[:2], ())
        examples += [fill(rng.choice(shapes), fake, us, rng) for _ in range(per_locale)]
        examples += [fill(rng.choice(ADVERSARIAL), fake, us, rng) for _ in range(per_locale // 3)]
    return examples


def hand_written() -> list[Example]:
    examples = []
    for line in HAND_WRITTEN.read_text().splitlines():
        row = json.loads(line)
        spans, searched_from = [], {}
        for pii in row["pii"]:
            start = row["text"].index(pii["value"], searched_from.get(pii["value"], 0))
            searched_from[pii["value"]] = start + 1
            spans.append((pii["kind"], start, start + len(pii["value"])))
        examples.append(Example(row["text"], spans))
    return examples


# --- scoring ----------------------------------------------------------------------------


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    exact: int = 0
    """True positives whose boundaries are exactly the labelled ones."""

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _matches(found: tuple[int, int], labelled: tuple[int, int]) -> bool:
    overlap = min(found[1], labelled[1]) - max(found[0], labelled[0])
    return overlap > 0 and overlap * 2 >= min(found[1] - found[0], labelled[1] - labelled[0])


def evaluate(examples: list[Example], find) -> tuple[dict[str, Score], list[tuple[str, str, str]]]:
    """Score per kind, and the errors as (false positive|false negative, kind, text)."""
    scores = {kind: Score() for kind in KINDS}
    errors = []
    for example in examples:
        found = [(s.kind, s.start, s.end) for s in find(example.text)]
        unmatched = list(found)
        for kind, start, end in example.spans:
            hit = next(
                (f for f in unmatched if f[0] == kind and _matches(f[1:], (start, end))), None
            )
            if hit is None:
                scores[kind].fn += 1
                errors.append(("missed", kind, f"{example.text[start:end]!r} in {example.text!r}"))
                continue
            unmatched.remove(hit)
            scores[kind].tp += 1
            scores[kind].exact += hit[1:] == (start, end)
        for kind, start, end in unmatched:
            scores[kind].fp += 1
            errors.append(("spurious", kind, f"{example.text[start:end]!r} in {example.text!r}"))
    return scores, errors


def prose_units() -> dict[str, list[str]]:
    """Texts of the shared ordinary-prose samples that exist here: each Alpaca field, and
    each Wikipedia paragraph."""
    units: dict[str, list[str]] = {}
    if PROSE["alpaca"].is_file():
        records = json.loads(PROSE["alpaca"].read_text())
        units["alpaca"] = [
            r[k] for r in records for k in ("instruction", "input", "output") if r.get(k)
        ]
    if PROSE["wikipedia"].is_file():
        text = PROSE["wikipedia"].read_text()
        # articles are one line each, paragraphs joined without a space: ".Next"
        units["wikipedia"] = [p for p in re.split(r"\n|(?<=[a-z]\.)(?=[A-Z])", text) if p.strip()]
    return units


def prose_detections(units: dict[str, list[str]], find) -> dict[str, Counter[str]]:
    return {
        name: Counter(span.kind for text in texts for span in find(text))
        for name, texts in units.items()
    }


def microseconds_per_record(scrub, records: list[list[str]], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for texts in records:
            for text in texts:
                scrub(text)
        best = min(best, time.perf_counter() - started)
    return best / len(records) * 1e6


def generated_records(n: int) -> list[list[str]]:
    """The texts of benchmarks/prepare_throughput.py's generated records."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from prepare_throughput import generate as generate_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.jsonl"
        generate_file(path, n)
        records = []
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the generator's broken records
            records.append([v for v in record.values() if v])
    return records


# --- report -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-locale", type=int, default=200, help="positive texts per locale")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--types", default="all", help="PII types, as for --pii-types")
    parser.add_argument("--show", type=int, default=0, help="print this many errors and "
                        "prose detections per type")  # fmt: skip
    parser.add_argument("--speed-records", type=int, default=5000,
                        help="generated records to time scrubbing on (0: no timing)")  # fmt: skip
    args = parser.parse_args(argv)

    from tuneforge.config.prepare import PrepareConfig
    from tuneforge.data.pii import Scrubber

    cfg = PrepareConfig(pii_types=args.types)
    scrubber = Scrubber(cfg.pii_types, cfg.pii_regions)
    examples = generate(args.per_locale, args.seed) + hand_written()
    scores, errors = evaluate(examples, scrubber.find)
    print(f"labelled set: {len(examples)} texts ({args.per_locale} per locale in "
          f"{len(LOCALES)} locales, a third as many adversarial, {len(hand_written())} "
          f"hand-written), seed {args.seed}, Faker {version('faker')}")  # fmt: skip
    print(f"locales: {', '.join(LOCALES)}\n")
    print("| type | labelled spans | precision | recall | exact boundaries |")
    print("|---|---:|---:|---:|---:|")
    for kind in cfg.pii_types:
        s = scores[kind]
        exact = s.exact / s.tp if s.tp else 0
        print(f"| {kind} | {s.tp + s.fn} | {s.precision:.3f} | {s.recall:.3f} | {exact:.2f} |")
    units = prose_units()
    _prose_table(units, prose_detections(units, scrubber.find), cfg.pii_types)
    if args.show:
        _show([e for e in errors if e[1] in cfg.pii_types], units, scrubber, args.show)
    if args.speed_records:
        _speed(args.speed_records, cfg)
    return 0


def _prose_table(units, detections, kinds) -> None:
    if not units:
        print(f"\nordinary prose: the shared samples are missing (expected {PROSE['alpaca']} "
              f"and {PROSE['wikipedia']}), so no prose precision")  # fmt: skip
        return
    names = list(units)
    print(f"\nordinary prose: {', '.join(f'{n} {len(units[n])} texts' for n in names)}; "
          "every detection counted as a false positive\n")  # fmt: skip
    print(f"| type | {' | '.join(f'{n} detections' for n in names)} | precision |")
    print(f"|---|{'---:|' * len(names)}---:|")
    for kind in kinds:
        counts = [detections[n][kind] for n in names]
        precision = "0.000" if sum(counts) else "1.000 (none found)"
        print(f"| {kind} | {' | '.join(map(str, counts))} | {precision} |")


def _show(errors, units, scrubber, n: int) -> None:
    shown: Counter[tuple[str, str]] = Counter()
    print("\nerrors on the labelled set:")
    for what, kind, context in errors:
        if shown[what, kind] < n:
            shown[what, kind] += 1
            print(f"  {what} {kind}: {context}")
    print("\nprose detections (hand-check these):")
    for name, texts in units.items():
        seen: Counter[str] = Counter()
        for text in texts:
            for span in scrubber.find(text):
                if seen[span.kind] < n:
                    seen[span.kind] += 1
                    found = text[span.start : span.end]
                    around = text[max(0, span.start - 40) : span.end + 40].replace("\n", " ")
                    print(f"  {name} {span.kind}: {found!r} in ...{around}...")


def _speed(n: int, cfg) -> None:
    from tuneforge.data.pii import Scrubber

    records = generated_records(n)
    alpaca = prose_units().get("alpaca")
    print()
    for label, types in (("default types", "default"), ("all types", "all")):
        scrubber = Scrubber(type(cfg)(pii_types=types).pii_types, cfg.pii_regions)
        line = (
            f"{label}: {microseconds_per_record(scrubber.scrub, records):.1f} us/record on "
            f"{len(records)} generated records (benchmarks/prepare_throughput.py)"
        )
        if alpaca:
            per_text = microseconds_per_record(scrubber.scrub, [[t] for t in alpaca])
            line += f", {per_text:.1f} us/text on {len(alpaca)} Alpaca texts"
        print(line)


if __name__ == "__main__":
    sys.exit(main())
