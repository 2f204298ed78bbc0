"""Personal data with a fixed shape: emails, credential URLs, IBANs, US SSNs, IP addresses.

Shapes that are reserved for documentation are left alone, because rewriting them changes
text that names nobody: RFC 2606 / 6761 example domains and RFC 5737 / 3849 example IPs
(and loopback and unspecified addresses, the same on every machine).
"""

from __future__ import annotations

import ipaddress
import re

URL_WITH_CREDENTIALS = r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]+:[^\s/@]+@[^\s]+"
EMAIL = r"\b[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b"
IBAN = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"
# Area 000, 666 and 9xx, group 00 and serial 0000 are never issued; one separator style.
SSN = r"\b(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}\b"
IPV4 = r"\b\d{1,3}(?:\.\d{1,3}){3}\b"
IPV6 = r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"

_RESERVED_SECOND_LEVEL = ("example.com", "example.net", "example.org")
_RESERVED_TOP_LEVEL = ("example", "test", "invalid", "localhost")
_DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
) + (ipaddress.ip_network("2001:db8::/32"),)
_EMAIL_DOMAIN = re.compile(EMAIL)
_VERSION_BEFORE = re.compile(r"(?:\bv|version|ver\.?|release|build)\s*$", re.IGNORECASE)


def reserved_domain(domain: str) -> bool:
    domain = domain.lower().rstrip(".")
    if domain.rsplit(".", 1)[-1] in _RESERVED_TOP_LEVEL:
        return True
    return any(domain == d or domain.endswith("." + d) for d in _RESERVED_SECOND_LEVEL)


def email(text: str, start: int, end: int) -> bool:
    match = _EMAIL_DOMAIN.fullmatch(text, start, end)
    return match is not None and not reserved_domain(match.group(1))


def iban(text: str, start: int, end: int) -> bool:
    compact = text[start:end].replace(" ", "").upper()
    rearranged = compact[4:] + compact[:4]
    return 15 <= len(compact) <= 34 and int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def ip_address(text: str, start: int, end: int) -> bool:
    candidate = text[start:end]
    if ":" in candidate and sum(1 for group in candidate.split(":") if group) < 3:
        return False  # "::" and "a::b" are Haskell and C++ far more often than addresses
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if address.version == 4 and _VERSION_BEFORE.search(text, max(0, start - 12), start):
        return False  # "version 1.2.3.4"
    if address.is_loopback or address.is_unspecified:
        return False
    return not any(address in network for network in _DOCUMENTATION_NETWORKS)
