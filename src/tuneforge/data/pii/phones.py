"""Phone numbers: a cheap candidate regex, shape and context rules, then libphonenumber.

Why not `phonenumbers.PhoneNumberMatcher` itself: it reads national numbers for one
region per pass, so 33 regions cost 33 scans of every text with a digit, and neither of
its leniencies separates phones from other numbers once many regions are allowed.
VALID rejects numbers whose area code is unassigned (53% of Faker's en_US numbers and
61% of en_CA's, which draw random digits, as people typing fake or old numbers do),
and with 33 regions almost any digit string is valid somewhere ("1700000000" in GB,
NZ, DE, AT and KR; "1939-1945" in IE, AT, BE, SE and FI). So the evidence that a
number is a phone comes from how it is written (a +country code, an area code in
parentheses, a trunk 0, an extension, phone-like grouping) or from a word before it
("call", "Tel.", "Handy"); libphonenumber then checks that the digits are a possible
number (POSSIBLE leniency: the right length) for the country code or for one of the
configured regions. Dates, year ranges, thousands, card fragments and ISBNs are
excluded by shape first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

import phonenumbers

CANDIDATE = (
    r"(?<![\w+/.-])"  # not inside a word, a number or a path
    r"(?:(?:\+|00)\d{1,3}[ .-]?)?"  # country code
    r"(?:\(0\)[ .-]?)?"  # a trunk 0 kept in parentheses: +44 (0)20 ...
    r"(?:\(\d{1,5}\)[ .-]?)?"  # area code in parentheses
    r"\d{1,15}(?:[ .\-/]\d{1,10}){0,6}"  # digit groups
    r"(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6})?"  # extension
    r"(?!\w)"
)
_EXTENSION = re.compile(r"[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6}$")
_GROUP = re.compile(r"\d+")
_DATE = re.compile(
    r"\d{4}[-./]\d{1,2}[-./]\d{1,2}"  # 2024-03-15
    r"|\d{1,2}[-./]\d{1,2}[-./](?:\d{2}|\d{4})"  # 15.03.2024, 3/15/24
    r"|(?:1[5-9]|20)\d\d ?[-/] ?(?:1[5-9]|20)\d\d"  # 1939-1945
    r"|\d{5}-\d{3}"  # a Brazilian postcode (CEP): 04868-443
)
_THOUSANDS = re.compile(r"\d{1,3}(?:[ .,]\d{3})+")
_WINDOW = 32
"""Characters before a number searched for a word that says what it is."""
_CONTEXT = re.compile(
    r"\b(?:(?P<phone>phone|telephone|tel|call|calling|called|mobile|mob|cell|cellphone|fax|"
    r"contact|reach|text|sms|whatsapp|dial|ring|hotline|helpline|landline|bel|"
    r"(?:my|your|his|her|our|their) number|"
    r"t[ée]l[ée]phone|t[ée]l|portable|handy|tel[ée]fono|m[óo]vil|celular|cellulare|"
    r"telefoon|mobiel|numer|nummer|numero|n[úu]mero|tlf|puhelin|"
    r"telefon\w*|zadzwo\w*|chiam\w*|llam\w*|appel\w*|ligue\w*|anruf\w*)"
    r"|(?P<other>order|invoice|ticket|account|acct|ref|reference|tracking|serial|isbn|issn|"
    r"doi|zip|postcode|postal|patent|model|part|sku|id|batch|lot|version|page|pages|pp|"
    r"chapter|case|item|year|years|population|attendance|total|revenue|budget|cost|price|"
    r"salary|km|kg|usd|eur))\b",
    re.IGNORECASE,
)


def _context(text: str, start: int) -> str | None:
    """What the last telling word just before `start` says: "phone", "other" or None."""
    found = list(_CONTEXT.finditer(text, max(0, start - _WINDOW), start))
    if not found:
        return None
    last = found[-1]
    return "phone" if last.group("phone") else "other"


def _isbn13(digits: str) -> bool:
    if len(digits) != 13 or not digits.startswith(("978", "979")):
        return False
    return sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


def _grouped_like_a_phone(number: str) -> bool:
    """Three or more groups as phone numbers are printed ("415 555 0199", "22 265 98 83",
    "1-717-776-3170", "578 314 253"), not a list of small numbers, nor a card or account
    fragment, nor thousands ("1.000.000", "12 500 000")."""
    groups = _GROUP.findall(number)
    if len(groups) < 3 or len(groups[-1]) < (3 if len(groups) == 3 else 2):
        return False
    if any(len(g) < 2 for g in groups[1:]):
        return False  # "1 2 3 4 5 6 7"
    if all(len(g) == 4 for g in groups):
        return False  # "4111 1111 1111"
    # Groups of three digits are thousands, except 3-3-3 with spaces: that is how 9-digit
    # mobile numbers are printed in Poland and Spain, so "578 314 253" is read as a phone.
    return (
        not _THOUSANDS.fullmatch(number) or re.fullmatch(r"\d{3} \d{3} \d{3}", number) is not None
    )


def _possible(number: str, region: str | None) -> bool:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(parsed)


def phone_number(regions: Sequence[str]) -> Callable[[str, int, int], bool]:
    """The confirm step of the PHONE detector, reading national numbers as `regions` do."""

    @lru_cache(maxsize=4096)
    def possible_nationally(number: str) -> bool:
        return any(_possible(number, region) for region in regions)

    def confirm(text: str, start: int, end: int) -> bool:
        candidate = text[start:end]
        extension = _EXTENSION.search(candidate)
        number = candidate[: extension.start()] if extension else candidate
        digits = "".join(c for c in number if c.isdigit())
        if not 7 <= len(digits) <= 15 or _DATE.fullmatch(number) or _isbn13(digits):
            return False
        if number.isdigit() and number.endswith("0000"):
            return False  # "reach 1000000 users": a round quantity
        context = _context(text, start)
        if context == "other":
            return False
        if number.startswith(("+", "00")):
            international = "+" + number[2:] if number.startswith("00") else number
            if len(digits) >= 8 and _possible(international, None):
                return True
        evidence = (
            context == "phone"
            or extension is not None
            or "(" in number
            or (number.startswith("0") and len(digits) >= 8)  # a trunk prefix
            or _grouped_like_a_phone(number)
        )
        return evidence and possible_nationally(number)

    return confirm
