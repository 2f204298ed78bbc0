"""Street addresses: the house number and street, with the postcode and city when they follow.

Number-first addresses (US, Canada, UK, Australia: "742 Evergreen Terrace") are parsed by
pyap2, run on short windows that start at a number followed by a capitalised word.
pyap2 was chosen over usaddress on the Faker set of benchmarks/pii_eval.py with the same
windows: recall 0.15 vs 0.14 of all addresses (the rest are continental, below), but
usaddress's CRF misses suffixes it has not seen ("88575 Taylor Forge", "52 Cooper
Cliffs") that pyap2's USPS suffix table knows, and it tagged 18 spans in the shared
prose against pyap2's 8; usaddress was faster (32 vs 218 us per prose text), which
matters less for an opt-in type, and pyap2 now runs only on windows that hold one of its
street types. pyap2's own matches are then held to what its regex
lets through: every word of the street capitalised ("11 Pro for a mobile experience
that is" passes its "is" street type), and no year read as a house number ("the 1929
Wall Street crash").

Number-after addresses (Germany, the Netherlands, Scandinavia, Italy, Spain, Portugal,
Brazil, Poland, France's "12, rue de la Paix"), which pyap2 does not cover, are matched by
the street-type words of those languages followed or preceded by a house number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyap
from pyap.source_US.data import street_type_list  # the USPS suffixes its rules match

_CAPITALISED = r"[^\W\d_a-z][\w'’.-]*"
NUMBER_FIRST = re.compile(
    rf"(?<![\w.,/-])\d{{1,6}}[A-Za-z]?,? (?:[NSEW]\.? )?(?:\d+(?:st|nd|rd|th)|{_CAPITALISED})"
)
# "Flat 79, Callum Gateway": UK occupancy first, then a street without a number.
_STREET_TYPES = "|".join(sorted((re.escape(t) for t in street_type_list), key=len, reverse=True))
OCCUPANCY_FIRST = re.compile(
    rf"\b(?:Flat|Studio|Apartment|Apt\.?|Unit|Suite) \w{{1,5}}[,\n] ?"
    rf"(?:{_CAPITALISED} ){{1,3}}(?:{_STREET_TYPES})\b"
)
# Street types written before the name, capitalised as in Spanish, Italian and Portuguese
# addresses ("Via Giuseppe Verdi 12", "Rua Câmara, 97"), or lowercase in Polish ones.
PREFIX_TYPES = (
    "Calle|Avenida|Avda\\.|Plaza|Paseo|Camino|Carrera|Ronda|Travesía|Pasaje|Glorieta|Callejón|"
    "Carretera|Rambla|Acceso|Cuesta|Cañada|Vial|Urbanización|Bulevar|Senda|Via|Viale|Piazza|"
    "Piazzale|Corso|Largo|Vicolo|Contrada|Strada|Borgo|Rotonda|Incrocio|Stretto|Canale|Rua|"
    "Travessa|Alameda|Praça|Rodovia|Estrada|Viela|Vila|Ladeira|Recanto|Loteamento|Quadra|"
    "Setor|Trecho|Conjunto|Vereda|Núcleo|Sítio|Chácara|Residencial|Fazenda|Colônia|Jardim|"
    "Campo|Parque|Esplanada|Trevo|Pátio|Viaduto|Lagoa|Vale|Área|Distrito|Estação|Passarela|"
    "Pasadizo|C\\. de|ulica|ul\\.|aleja|(?<!et )al\\.|plac|pl\\.|osiedle|rynek|skwer|bulwar"
)
# French types come after the house number: "12, rue de la Paix".
_FRENCH_TYPES = "rue|avenue|av\\.|boulevard|bd|chemin|impasse|allée|place|quai|route|cours"
# Street types that end a compound name: "Goethestraße", "Keizersgracht", "Björkgatan".
# "ring" only after a consonant other than p and t: "during", "Spring", "measuring".
_SUFFIX_TYPES = (
    "straße|strasse|str\\.|weg|gasse|allee|platz|(?<=[-\\s]|[^\\W\\daeiouyptäöü])ring|damm|ufer|"
    "chaussee|steig|pfad|markt|graben|straat|laan|baan|plein|gracht|kade|singel|dreef|steeg|hof|"
    "boulevard|"
    "gatan|vägen|gränd|stigen|torget|gata"
)
_HOUSE_NUMBER = r"(?!(?:18|19|20)\d\d\b)\d{1,4}[a-zA-Z]?(?:[/-]\d{1,4}[a-zA-Z]?)?"  # not a year
_UNIT = r"(?: (?:Apt\.?|Apto\.?|Piso|Puerta|Piano|Appartamento|Wohnung|Whg\.|Bloco|Casa) \w{1,4})?"
_POSTCODE_CITY = (  # "10115 Berlin", "55-139 Słupsk", "5613 CF, Goutum", "Girona, 44051"
    rf"(?:,? (?:\d{{2}}-\d{{3}}|\d{{4}} ?[A-Z]{{2}},?|\d{{4,5}}(?:-\d{{3}})?) "
    rf"{_CAPITALISED}(?:[ -]{_CAPITALISED})?"
    rf"|,? {_CAPITALISED}(?: {_CAPITALISED})?,? \d{{5}}(?!\d))?"
)
_PARTICLE = r"(?:de|da|do|dos|das|del|di|la|le|van|von|der|du|des)"
_NAME_WORDS = rf"(?:{_PARTICLE} )*{_CAPITALISED}(?: (?:{_PARTICLE} )*{_CAPITALISED}){{0,4}}"
NUMBER_AFTER = re.compile(
    rf"(?<![\w-])(?:"
    rf"(?:{PREFIX_TYPES}) {_NAME_WORDS}"  # "Via Giuseppe Verdi", "aleja Turystyczna"
    rf"|(?:{_CAPITALISED}[- ])*[^\W\d_a-z][^\W\d_]+(?i:{_SUFFIX_TYPES})"  # "Goethestraße"
    rf"|{_CAPITALISED}[- ](?i:{_SUFFIX_TYPES})"  # "Lange Straße"
    rf"),? "
    rf"{_HOUSE_NUMBER}(?!\w|[.,]\d){_UNIT}{_POSTCODE_CITY}"
)
_NUMBER_AFTER_HINT = re.compile(r"[^\W\d_]\.?,? \d")
_STREET_NAME_CHARS = 80
"""How far before its house number a number-after street may start."""
FRENCH_NUMBER_FIRST = re.compile(
    rf"(?<![\w.,/-])\d{{1,4}}(?: ?(?:bis|ter))?,? (?:{_FRENCH_TYPES}) "
    rf"{_NAME_WORDS}{_POSTCODE_CITY}"
)
_YEAR_BEFORE = re.compile(r"\b(?:the|in|of|since|by|from|until|year|circa|c\.)\s*$", re.I)
_WINDOW = 90
"""Characters after the house number that pyap2 reads: street, unit, city, state, ZIP."""
_TYPE_WORDS = frozenset(t.title() for t in street_type_list) | frozenset(street_type_list)
"""pyap2 is run only on windows holding one of its street types, capitalised: its regex
costs ~0.5 ms a window, and most numbers followed by a capitalised word are not streets."""


def _parse_number_first(text: str, start: int) -> int | None:
    """End of the address that starts at `start`, as pyap2 reads it, or None."""
    line_end = text.find("\n", start)
    window = text[start : min(start + _WINDOW, len(text) if line_end < 0 else line_end)]
    if not any(word.strip(",.") in _TYPE_WORDS for word in window.split()):
        return None
    for country in ("US", "CA"):
        found = pyap.parse(window, country=country)
        if found and found[0].match_start == 0:
            return start + found[0].match_end
    found = pyap.parse_single_street(window, country="US")
    if not found or found[0].match_start != 0 or not found[0].street_type:
        return None
    street = window[: found[0].match_end].rstrip(" ,.")
    words = street.split()[1:]
    if not all(w[0].isupper() or w[0].isdigit() for w in words):
        return None
    return start + len(street)


def _number_after(text: str) -> Iterator[re.Match[str]]:
    """NUMBER_AFTER's matches, searched only around a word followed by a number
    ("Goethestraße 12", "Rua Câmara, 97"): 18 us per Alpaca text, where scanning
    the whole text costs 30."""
    searched_to = 0
    for hint in _NUMBER_AFTER_HINT.finditer(text):
        start = max(searched_to, hint.start() - _STREET_NAME_CHARS)
        for match in NUMBER_AFTER.finditer(text, start, hint.end() + _WINDOW):
            if match.start() <= hint.start() < match.end():
                yield match
                searched_to = match.end()
                break


def candidates(text: str) -> Iterator[tuple[int, int]]:
    claimed_until = -1
    spans = []
    for match in NUMBER_FIRST.finditer(text):
        start = match.start()
        if start < claimed_until:
            continue
        number = match.group(0).split(maxsplit=1)[0].rstrip(",")
        if len(number) == 4 and _YEAR_BEFORE.search(text, max(0, start - 8), start):
            continue
        end = _parse_number_first(text, start)
        if end is not None:
            spans.append((start, end))
            claimed_until = end
    for matches in (OCCUPANCY_FIRST.finditer(text), _number_after(text),
                    FRENCH_NUMBER_FIRST.finditer(text)):  # fmt: skip
        for match in matches:
            start, end = match.span()
            if not any(start < e and s < end for s, e in spans):
                spans.append((start, len(text[:end].rstrip(" ,."))))
    return iter(sorted(spans))
