"""Each PII detector on the cases that decide it: what it must find, and the look-alikes
(dates, versions, ZIP codes, order numbers, ISBNs, sums, code, reserved examples) that it
must leave alone."""

from __future__ import annotations

import pytest

from tuneforge.config.prepare import PrepareConfig
from tuneforge.data.pii import Scrubber

ALL_TYPES = PrepareConfig(pii_types="all").pii_types


def found(text: str, scrubber: Scrubber | None = None) -> list[tuple[str, str]]:
    """(kind, text) of what the scrubber finds; every type unless another scrubber is given.
    Built inside the test, so that the name list is read from the test cache."""
    scrubber = scrubber or Scrubber(ALL_TYPES)
    return [(s.kind, text[s.start : s.end]) for s in scrubber.find(text)]


@pytest.mark.parametrize(
    "text",
    [
        "The meeting moved to 14.03.2024 at 10:30, then to 2024-03-15.",
        "Released version 3.10.12, then v1.2.3.4 and build 10.0.19041.1.",
        "Order #48213 shipped to ZIP 94103-1234.",
        "Your order number is 4815162342 and the invoice 0012345678.",
        "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2 are on the cover.",
        "Compute 123456789012345 + 1 and 4111111111111111 * 2.",
        "x = arr[1024:2048]; for i in range(10000000): total += i",
        "Between 1939-1945 the city lost 120 000 people; 1,000,000 signed up.",
        "Card ending in 4242 4242 was charged $1299.99.",
        "Unix time 1700000000 is in 2023.",
        "The 1929 Wall Street crash ruined many.",
        "Chapter 11 covers Main Street economics.",
        "reverseList :: List a -> List a; std::vector<int> v;",
        "Score 3-2, ratio 16:9, pages 123-145.",
        "Tracking 1Z4841889038731155 is on the label.",
    ],
)
def test_look_alikes_are_not_personal_data(text):
    assert found(text) == []


# --- reserved examples ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Write to jane@example.com, ops@mail.example.org or bob@example.net.",
        "Use admin@corp.test, me@x.invalid, root@host.example or dev@app.localhost.",
        "Examples: 192.0.2.10, 198.51.100.7, 203.0.113.254, 2001:db8::ff00:42:8329.",
        "Bind to 127.0.0.1:8000, 0.0.0.0 or ::1 in development.",
    ],
)
def test_documentation_emails_and_ips_are_kept(text):
    assert found(text) == []


def test_real_domains_and_addresses_are_not_reserved():
    text = "Mail ana@example.co.uk or jo@myexample.com from 192.0.3.1 and 2001:db9::1."
    assert [k for k, _ in found(text)] == ["EMAIL", "EMAIL", "IP_ADDRESS", "IP_ADDRESS"]


# --- cards ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1111",  # Visa 16
        "4222222222222",  # Visa 13
        "5500-0000-0000-0004",  # Mastercard 51-55
        "2223 0031 2200 3222",  # Mastercard 2-series
        "2720 9900 0000 0007",  # Mastercard, the top of 2221-2720
        "3782 822463 10005",  # Amex, 4-6-5
        "6011 1111 1111 1117",  # Discover
        "3056 930902 5904",  # Diners, 4-6-4
        "3530 1113 3330 0000",  # JCB 16
        "180000000000002",  # JCB 15, 1800
        "213100000000001",  # JCB 15, 2131
        "6759 6498 2643 8453",  # Maestro
        "6304 0000 0000 0000",  # Maestro 16 (6304)
        "6212 3456 7890 1232",  # UnionPay
    ],
)
def test_cards_of_every_network(number):
    assert found(f"Pay with {number} please.") == [("CREDIT_CARD", number)]


def test_twelve_digit_maestro_needs_a_card_word():
    assert found("Maestro 6759 0000 0000 paid.") == [("CREDIT_CARD", "6759 0000 0000")]
    assert found("Pay by card 5700 0000 0002.") == [("CREDIT_CARD", "5700 0000 0002")]
    assert found("Reference 5700 0000 0002 is filed.") == []


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112 fails the checksum.",
        "123456789012345 + 1",
        "= 378282246310005",
        "The sum of 256626720691 and 1646615806005.\n\nThe result is:\n\n4212883012996",
        "Provide a step-by-step calculation for 355909190063-746, equations only.",
        "The id 9111111111111111 passes Luhn but no network issues 9.",
        "Grouped oddly: 41 1111 1111 111111.",
    ],
)
def test_numbers_that_are_not_cards(text):
    assert [k for k, _ in found(text)] == []


# --- phones -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "+1 (415) 555-0132",
        "(212) 555-0147",
        "415.555.0199",
        "1-800-555-0199 x4587",
        "217-977-6317x066",
        "+44 20 7946 0958",
        "020 7946 0958",
        "+49 (0) 30 901820",
        "030 901820",
        "+33 1 42 68 53 00",
        "01 42 68 53 00",
        "+34 612 345 678",
        "612 345 678",
        "0032 2 555 12 34",
        "+91 98765 43210",
        "06-12345678",
    ],
)
def test_phone_forms(phone):
    assert found(f"Call {phone} today.") == [("PHONE", phone)]


def test_short_national_numbers_need_a_phone_word():
    assert found("Call me on 555-0199.") == [("PHONE", "555-0199")]
    assert found("Part 555-0199 is back in stock.") == []


def test_bare_digits_need_a_phone_word():
    assert found("Mobile: 3877840801") == [("PHONE", "3877840801")]
    assert found("Chiamare al numero 3500116562.") == [("PHONE", "3500116562")]
    assert found("Invoice 3877840801 is paid.") == []


def test_national_formats_follow_the_configured_regions():
    us_only = Scrubber(["PHONE"], regions=["US"])
    germany = Scrubber(["PHONE"], regions=["DE"])
    text = "Ruf an: 030 901820"  # 8 digits: a possible German number, never a US one
    assert found(text, us_only) == []
    assert found(text, germany) == [("PHONE", "030 901820")]
    assert found("Call +49 30 901820", us_only) == [("PHONE", "+49 30 901820")]


def test_international_numbers_of_impossible_length_are_not_phones():
    assert found("Call +44 12 34") == []  # too short for the UK


# --- addresses and names --------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "742 Evergreen Terrace",
        "1600 Pennsylvania Avenue NW",
        "55 West Main St",
        "7835 Erica Trace, Brianafort, PR 66729",
        "Goethestraße 12, 10115 Berlin",
        "Keizersgracht 123",
        "Björkgatan 806",
        "Via Giuseppe Verdi 12, 20121 Milano",
        "Calle Mayor, 5",
        "Rua Câmara, 97",
        "12, rue de la Paix, 75002 Paris",
        "ulica Odrzańska 63",
    ],
)
def test_street_addresses(address):
    assert found(f"Send it to {address} by Monday.") == [("STREET_ADDRESS", address)]


@pytest.mark.parametrize(
    "text",
    [
        "In 1929 Wall Street crashed.",
        "During 1890 and 1920 the movement grew.",
        "Fashion trends for Spring 2021.",
        "Sent via Skype 3 times.",
        "et al. Smith 2019 disagree.",
    ],
)
def test_not_addresses(text):
    assert [k for k, _ in found(text)] == []


@pytest.mark.parametrize(
    "text, name",
    [
        ("Maria Garcia called about the invoice.", "Maria Garcia"),
        ("Dear Anna Schmidt, thank you.", "Anna Schmidt"),
        ("Send it to Dr. Hans Müller today.", "Dr. Hans Müller"),
        ("I met Mr. Okafor at noon.", "Mr. Okafor"),
        ("Ask Jean-Luc Moreau first.", "Jean-Luc Moreau"),
        ("Contact Przemysław Nowak now.", "Przemysław Nowak"),
    ],
)
def test_person_names(text, name):
    assert found(text) == [("PERSON", name)]


@pytest.mark.parametrize(
    "text",
    [
        "The New York Times and the Golden Gate Bridge.",
        "Microsoft Word and Google Docs open it.",
        "We met on Monday in March.",
        "Tel Aviv and Buenos Aires are far apart.",
    ],
)
def test_not_names(text):
    assert found(text) == []
