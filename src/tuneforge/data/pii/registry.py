"""Every detector, in the order in which they claim text."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from tuneforge.data.pii import cards, patterns, phones
from tuneforge.data.pii.detect import Detector, regex


@lru_cache(maxsize=8)
def detectors(regions: Sequence[str]) -> tuple[Detector, ...]:
    # Earlier kinds claim their text first: a URL's user:pass@host is not an email, an
    # IBAN or card is not a phone, and a phone is not a house number ("Via Lopes, 92 8684-3353").
    from tuneforge.data.pii import addresses, names  # their data loads on first use

    return (
        Detector("URL_WITH_CREDENTIALS", regex(patterns.URL_WITH_CREDENTIALS), needs="@"),
        Detector("EMAIL", regex(patterns.EMAIL), patterns.email, claim_rejected=True, needs="@"),
        Detector("IBAN", regex(patterns.IBAN), patterns.iban, claim_rejected=True),
        Detector("CREDIT_CARD", regex(cards.CANDIDATE), cards.card_number),
        Detector("SSN", regex(patterns.SSN)),
        Detector("IP_ADDRESS", regex(patterns.IPV4), patterns.ip_address, claim_rejected=True),
        Detector("IP_ADDRESS", regex(patterns.IPV6), patterns.ip_address, needs=":"),
        Detector("PHONE", regex(phones.CANDIDATE), phones.phone_number(tuple(regions))),
        Detector("STREET_ADDRESS", addresses.candidates),
        Detector("PERSON", names.candidates, needs="upper"),
    )
