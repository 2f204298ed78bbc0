"""Person names: runs of capitalised words that start with a known first name and end with
a known surname, or a title followed by a known name ("Dr. Okafor").

The gazetteer (names-dataset, see gazetteer.py) alone is not enough: a name list drawn
from 105 countries contains "May", "Monday", "Street" and "The". So a run is split at
function words, greetings and calendar words ("Dear Anna Schmidt"), and skipped when one
of its words makes it an organisation, a place or a work ("Golden Gate Bridge", "Wall
Street Journal", "Via Giuseppe Verdi") or when "the" comes before it. Public figures'
names are still found: this cannot tell them from private people's, which is why PERSON
is not on by default (docs/benchmarks.md has the measurement).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from tuneforge.data.pii.addresses import PREFIX_TYPES
from tuneforge.data.pii.gazetteer import names

_NAME_WORD = r"[^\W\d_a-z][^\W\d_]*(?:['’-][^\W\d_]+)*"
_PARTICLE = r"(?:de|da|do|dos|das|del|della|di|du|des|la|le|van|von|der|den|ter|ten|bin|al|y|e)"
_TITLE = (
    r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|M|Sr|Sra|Srta|Dott|Sig|Sig\.ra|"
    r"Dhr|Mevr|Pan|Pani|Hr|Fru|Don|Doña"
)
# A run of capitalised words, possibly with particles between them ("Ludwig van Beethoven").
RUN = re.compile(
    rf"(?<![\w@.])(?:(?P<title>{_TITLE})\.? )?"
    rf"(?P<words>{_NAME_WORD}(?: (?:{_PARTICLE} ){{0,2}}{_NAME_WORD}){{0,4}})(?![\w@])"
)
# Words that end or start a name but are not part of it: function words, greetings,
# imperatives that open instructions, calendar words. A run is split at them.
SPLIT = frozenset(
    """
    The A An In On At Of For And But Or Nor If When While After Before Since Until Because
    This That These Those It Its He She We They I You My Your Our His Her Their What Which
    Who Whom Whose How Why Where There Here Please Thanks Thank Dear Hello Hi Hey Yes No Not
    Also Then Than So As By From To With Without Into Onto Over Under About Between Through
    During Each Every Some Any All Both Either Neither Many Much More Most Other Another
    Such Only Just Even Very Can Could Would Shall Should Might Must Do Does Did Is Are Was
    Were Be Been Being Has Have Had Let Make Write Give Tell Find Create List Describe
    Explain Generate Use Add See Note Example Answer Question Step Input Output Regards Best
    Sincerely Cheers Yesterday Today Tomorrow Monday Tuesday Wednesday Thursday Friday
    Saturday Sunday January February March September October November December Meet Call
    Contact Ask Email Send Ship Pay Visit Invoice Applicant Signed Forwarding According Go
    Me Us Never
    Der Die Das Den Dem Des Ein Eine Einen Und Oder Aber Mit Zu Im Am Um Für Auf Aus Bei
    Nach Sie Ich Er Es Wir Ihr Ihnen Davon Dann Wenn Bitte Danke Liebe Lieber Hallo Sehr
    Les Un Une Et Ou Avec Pour Par Sur Dans Merci Bonjour Cher Chère El Los Las Y Con Por
    Para Gracias Hola Estimado Estimada Il Lo Gli Con Per Grazie Ciao Caro Cara Het Een En
    Met Voor Beste Geachte Os Com Obrigado Olá Prezado Prezada Och Med För Hej Kära
    """.split()
)
# Words that make a run of capitalised words a place, an organisation, a work or an event
# ("Golden Gate Bridge", "Wall Street Journal", "Ford Motor Company", "Via Giuseppe
# Verdi"): the run is skipped. Words that are also common surnames (Hill, Hall, Park,
# Lane, Law, Day) are left out.
ENTITY = frozenset(
    [w for w in re.findall(r"\w+", PREFIX_TYPES) if w[0].isupper() and len(w) > 1]
    + """
    New Old North South East West Northern Southern Eastern Western Central Upper Lower
    Great Grand Holy Royal Saint St Mount Mt Lake River Sea Ocean Island Islands Bay Beach
    Coast Valley Desert Mountain Mountains Canyon Street Avenue Road Boulevard Square Tower
    Palace Cathedral Abbey Center Centre Station Airport Harbour Harbor Hotel University
    College San Santa Santo São Porto Casa Nova Novo Villa Ciudad Città Stadt
    School Academy Institute Hospital Museum Library Gallery Theatre Theater Stadium Arena
    Club League Cup Team Party Union Council Committee Congress Parliament Senate Court
    Ministry Department Office Agency Bureau Service Services Army Navy Air Force Corps
    Police Company Corporation Corp Inc Ltd Llc Co Group Holdings Bank Fund Trust Foundation
    Association Society Times News Journal Herald Gazette Tribune Press Review Magazine Gmbh
    GmbH AG KG SA SL SRL SpA BV NV AB HB Oy ASA Plc PLC LLC LLP Ltda Cia EI
    Records Pictures Studios Films Entertainment Media Airlines Airways Motors Motor Systems
    Technologies Technology Software Labs Networks Digital Global International National
    Federal State States City County Province District Republic Kingdom Empire Dynasty
    Federation Commonwealth United America American European Asian African British English
    French German Spanish Italian Chinese Japanese Russian Indian Catholic Muslim Jewish War
    Wars Battle Revolution Act Treaty Award Awards Prize Medal Festival Days Week Year Era
    Age Period Century Series Season Episode Show Movie Film Book Books Album Song
    Game Games Edition Volume Chapter Part Section Page Figure Table Appendix Python Java
    Google Microsoft Apple Amazon Facebook Twitter Windows Linux Excel Word Docs Chrome
    Firefox Android Internet Web Online Email Phone Mobile Data Science Art Arts History
    Music Energy Health Christmas Easter Thanksgiving World Earth Moon Sun Space Life
    """.split()
)
_WORD = re.compile(_NAME_WORD)
_THE_BEFORE = re.compile(r"\bthe\s+$", re.IGNORECASE)


def _known(word: str, known: Callable[[str], bool]) -> bool:
    """Whether `known` has the word, or each part of a hyphenated one ("Wieloch-Bolnbach")."""
    key = word.title()
    return known(key) or all(known(part) for part in key.split("-") if part)


def candidates(text: str) -> Iterator[tuple[int, int]]:
    gazetteer = names()
    first_names, surnames = gazetteer.first_name, gazetteer.surname
    for run in RUN.finditer(text):
        if run.group("title") is None and " " not in run.group("words"):
            continue  # one capitalised word: most often a sentence's first
        words = [w.span() for w in _WORD.finditer(text, run.start("words"), run.end())]
        if any(text[a:b] in ENTITY for a, b in words):
            continue
        if _THE_BEFORE.search(text, max(0, run.start() - 5), run.start()):
            continue
        title = run.start() if run.group("title") else None
        part: list[tuple[int, int]] = []
        for a, b in [*words, (len(text), len(text))]:  # a sentinel flushes the last part
            if a < len(text) and text[a:b] not in SPLIT:
                part.append((a, b))
                continue
            yield from _name_in(text, part, title, first_names, surnames)
            part, title = [], None


def _name_in(text, words, title, first_names, surnames) -> Iterator[tuple[int, int]]:
    """The span from the first known first name to the last known surname of `words`; a
    title with one or two known names is enough ("Dr. Okafor")."""
    if not words:
        return
    if (
        title is not None
        and len(words) <= 2
        and all(_known(text[a:b], surnames) or _known(text[a:b], first_names) for a, b in words)
    ):
        yield title, words[-1][1]
        return
    start = next((w for w in words if _known(text[w[0] : w[1]], first_names)), None)
    end = next((w for w in reversed(words) if _known(text[w[0] : w[1]], surnames)), None)
    if start is None or end is None or end[0] <= start[0]:
        return
    yield (title if title is not None and start == words[0] else start[0]), end[1]
