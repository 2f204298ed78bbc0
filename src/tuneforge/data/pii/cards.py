"""Payment card numbers: an issuer's prefix and length, the Luhn checksum, and the way
people group the digits.

One random number in ten passes Luhn, so the issuer table (ISO/IEC 7812 IIN ranges as
the networks publish them) does most of the work against order numbers and IDs, and
the grouping rule against numbers that are written as something else
("355909190063-746" passes JCB's prefix and Luhn but no card is printed 12-3).
"""

from __future__ import annotations

import re


def _span(low: int, high: int) -> tuple[str, ...]:
    return tuple(map(str, range(low, high + 1)))


# (prefixes, allowed lengths) per network; a number is a card if any row admits it.
ISSUERS = (
    (("4",), (13, 16, 19)),  # Visa
    (("51", "52", "53", "54", "55", *_span(2221, 2720)), (16,)),  # Mastercard
    (("34", "37"), (15,)),  # American Express
    (("6011", "65", *_span(644, 649), *_span(622126, 622925)), (16, 17, 18, 19)),  # Discover
    # Diners Club International
    (("300", "301", "302", "303", "304", "305", "3095", "36", "38", "39"), tuple(range(14, 20))),
    # JCB issues 3528-3589; the rest of 35 is unissued, but test and generated numbers
    # (Faker's among them) use it, and a Luhn-valid 16-digit 35... is a card either way.
    (("35",), (16, 17, 18, 19)),  # JCB
    (("1800", "2131"), (15,)),  # JCB, the older 15-digit range
    # Maestro: its own IINs at every length; its broad 50/56-69 range at 16-19 digits, and
    # at 12-15 only after a word for a card (see BROAD_MAESTRO), since shorter numbers
    # starting with 5 or 6 are common outside cards.
    (
        ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"),
        tuple(range(12, 20)),
    ),
    (("50", *_span(56, 69)), (16, 17, 18, 19)),  # Maestro, broad range
    (("62", "81"), (16, 17, 18, 19)),  # UnionPay
    (_span(2200, 2204), (16, 17, 18, 19)),  # Mir
)

# 0604 is an old Maestro range that card generators (Faker's among them) still issue.
BROAD_MAESTRO = (("0604", "50", *_span(56, 69)), tuple(range(12, 16)))
_CARD_WORD = re.compile(
    r"\b(?:card|cards|maestro|debit|credit|karte|carte|tarjeta|carta|cart[ãa]o|karta|kort|"
    r"kaart|pay|paid|charge[ds]?)\b",
    re.IGNORECASE,
)
CANDIDATE = r"(?<![\w.,-])\d(?:[ -]?\d){11,18}(?![\d-]|[.,]\d)"
# Groups a card is printed in: fours (the last may be short), Amex/Diners 4-6-5 / 4-6-4,
# or none at all.
_GROUPINGS = re.compile(
    r"\d{4}(?:([ -])\d{4})?(?:\1\d{4}){0,3}(?:\1\d{1,4})?|\d{4}([ -])\d{6}\2\d{4,5}"
)
# "123456789012345 + 1", "= 4111111111111111": a number in a sum is not a card.
_ARITHMETIC_BEFORE = re.compile(r"(?:[\d)]\s*[-+*/×÷^]|=)\s*$")
_ARITHMETIC_AFTER = re.compile(r"^\s*[-+*/×÷=^%]\s*[\d(]")
# "256626720691 + 1646615806005 = ... The result is: 4212883012996": a sum's answer.
_MATHS_WORD = re.compile(
    r"\b(?:sum|total|result|answer|equals|product|difference|quotient|remainder|"
    r"calculat\w*|comput\w*)\b|=",
    re.IGNORECASE,
)


def luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        digit = int(c)
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def issued(digits: str) -> bool:
    return any(
        digits.startswith(prefixes) and len(digits) in lengths for prefixes, lengths in ISSUERS
    )


def card_number(text: str, start: int, end: int) -> bool:
    candidate = text[start:end]
    digits = candidate.replace(" ", "").replace("-", "")
    if not luhn(digits):
        return False
    if not issued(digits):
        prefixes, lengths = BROAD_MAESTRO
        broad_maestro = digits.startswith(prefixes) and len(digits) in lengths
        if not (broad_maestro and _CARD_WORD.search(text, max(0, start - 24), start)):
            return False
    if not (digits == candidate or _GROUPINGS.fullmatch(candidate)):
        return False
    before, after = text[max(0, start - 8) : start], text[end : end + 8]
    if _ARITHMETIC_BEFORE.search(before) or _ARITHMETIC_AFTER.match(after):
        return False
    window = max(0, start - 40)
    return not (
        _MATHS_WORD.search(text, window, start) and not _CARD_WORD.search(text, window, start)
    )
