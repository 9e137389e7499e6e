"""Build ``pii_cases.jsonl``: steerlab's own PII test set, written for this project.

Why a script and not a hand-typed file: gold offsets are computed while the text is assembled,
so they cannot drift by a character; card numbers get a real Luhn digit, IBANs real ISO 13616
check digits and US routing numbers a real ABA checksum, so a detector that validates checksums
is tested on numbers it should accept. The seed is fixed, so the file is reproducible:

    python tests/data/make_pii_cases.py          # rewrites tests/data/pii_cases.jsonl

Each line is ``{"id", "group", "text", "spans": [{"kind", "start", "end"}]}``. ``group`` says
which template family a case came from (``negative`` cases have no PII at all and exist to
measure precision). Every person, number and address here is invented: names are drawn from
lists of common given and family names, numbers from random digits. Phone numbers are drawn from
allocated ranges of each national numbering plan (area codes, mobile prefixes), as a customer's
real number would be. The IP ranges include the documentation blocks (192.0.2.0/24,
2001:db8::/32) next to realistic private and public ones. Hard cases are kept on purpose:
lower-case and ALL-CAPS names, German and French phrasing around numbers, and plain 9-10 digit
order numbers among the negatives (many such digit runs are valid phone numbers somewhere).
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable
from pathlib import Path

__all__ = ["aba_check_digit", "build_cases", "iban", "luhn_complete", "main"]

SEED = 20240611
OUT = Path(__file__).with_name("pii_cases.jsonl")

FIRST = [
    "James", "Maria", "Oluwaseun", "Wei", "Priya", "Jean-Pierre", "Anna", "Siobhan", "Mohammed",
    "Katarzyna", "Carlos", "Aisha", "Liam", "Sofia", "Hiroshi", "Fatima", "Thomas", "Elena",
    "David", "Chloe", "Rajesh", "Ingrid", "Mateo", "Grace", "Dmitri", "Amelia", "Kwame", "Laura",
    "Patrick", "Yuki", "Emma", "Lukas", "Sarah", "Ahmed", "Olivia", "Marco", "Hannah", "Jamal",
    "Claire", "Robert",
]  # fmt: skip
LAST = [
    "Smith", "Garcia", "Adeyemi", "Chen", "Patel", "Dubois", "Müller", "O'Neill", "Al-Farsi",
    "Nowak", "Rodriguez", "Khan", "Murphy", "Rossi", "Tanaka", "Hassan", "Schneider", "Ivanova",
    "Johnson", "Martin", "Sharma", "Larsen", "Fernandez", "Okafor", "Petrov", "Wilson", "Mensah",
    "Bianchi", "Brennan", "Nakamura", "Brown", "Weber", "Taylor", "Rahman", "Lefebvre", "Moretti",
    "Fischer", "Williams", "Dupont", "Anderson",
]  # fmt: skip
DOMAINS = [
    "gmail.com", "outlook.com", "yahoo.co.uk", "hotmail.fr", "web.de", "gmx.net", "proton.me",
    "icloud.com", "btinternet.com", "orange.fr", "mail.example.org", "acme-logistics.co.uk",
    "studio-nord.de", "uni-koeln.de", "fastmail.fm", "company.io", "telco.ie", "posteo.de",
]  # fmt: skip
BANKS = ["Barclays", "Lloyds", "HSBC", "Santander", "Chase", "Wells Fargo", "ING", "Revolut", "Monzo"]
SHOPS = ["Amazon", "Zalando", "Currys", "Argos", "Best Buy", "Fnac", "MediaMarkt", "eBay"]

US_AREAS = ["201", "202", "206", "212", "213", "214", "303", "305", "312", "404", "415", "469",
            "503", "512", "602", "617", "646", "702", "718", "720", "773", "801", "818", "917"]  # fmt: skip


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def luhn_complete(prefix_and_body: str) -> str:
    """Append the Luhn check digit (ISO/IEC 7812) so the whole number validates."""
    total = 0
    for i, ch in enumerate(reversed(prefix_and_body)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return prefix_and_body + str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    """ISO 13616 IBAN: check digits are 98 - (BBAN + country + '00' as digits) mod 97."""
    rearranged = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in rearranged))
    return f"{country}{98 - number % 97:02d}{bban}"


def aba_check_digit(first8: str) -> str:
    """ABA routing numbers: 3*(d1+d4+d7) + 7*(d2+d5+d8) + (d3+d6+d9) is a multiple of 10."""
    w = [3, 7, 1, 3, 7, 1, 3, 7]
    s = sum(int(d) * k for d, k in zip(first8, w, strict=True))
    return first8 + str((10 - s % 10) % 10)


def group(s: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for n in sizes:
        if i >= len(s):
            break
        out.append(s[i : i + n])
        i += n
    if i < len(s):
        out.append(s[i:])
    return sep.join(out)


# ---- value generators: each takes the RNG and the case context (so an email can reuse the
# person's name, as real customers' addresses usually do) and returns the surface string.


class Ctx:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.first = rng.choice(FIRST)
        self.last = rng.choice(LAST)


def gen_person(c: Ctx) -> str:
    r = c.rng.random()
    if r < 0.75:
        return f"{c.first} {c.last}"
    if r < 0.9:
        middle = c.rng.choice(["A.", "J.", "Marie", "Lee", "K."])
        return f"{c.first} {middle} {c.last}"
    other = c.rng.choice([name for name in LAST if name != c.last])
    return f"{c.first} {other}-{c.last}"


def gen_person_lower(c: Ctx) -> str:
    return f"{c.first} {c.last}".lower()


def gen_person_upper(c: Ctx) -> str:
    return f"{c.first} {c.last}".upper()


def gen_first(c: Ctx) -> str:
    return c.first


def gen_last(c: Ctx) -> str:
    return c.last


def _ascii(name: str) -> str:
    table = str.maketrans({"ü": "ue", "ö": "oe", "ä": "ae", "é": "e", "'": "", " ": ""})
    return name.translate(table).lower()


def gen_email(c: Ctx) -> str:
    rng = c.rng
    f, l_ = _ascii(c.first), _ascii(c.last)
    local = rng.choice(
        [
            f"{f}.{l_}",
            f"{f[0]}.{l_}",
            f"{f}{l_}{rng.randint(1, 99)}",
            f"{f}_{l_}",
            f"{l_}.{f}",
            f"{f}+orders",
            f"{f}.{l_}+{rng.choice(['bank', 'shop', 'billing'])}",
            f"{f[0]}{l_}-{rng.randint(1960, 2005)}",
            f"info.{l_}",
            f"{f}",
        ]
    )
    address = f"{local}@{rng.choice(DOMAINS)}"
    return address.upper() if rng.random() < 0.08 else address


def gen_phone_us(c: Ctx) -> str:
    rng = c.rng
    area = rng.choice(US_AREAS)
    if rng.random() < 0.15:
        area = rng.choice(["800", "888", "877", "866"])
    exch = str(rng.randint(2, 9)) + digits(rng, 2)
    while exch[1:] == "11" or exch == "555":
        exch = str(rng.randint(2, 9)) + digits(rng, 2)
    line = digits(rng, 4)
    fmt = rng.choice(
        [
            "({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}", "+1-{a}-{e}-{l}",
            "1 ({a}) {e}-{l}", "{a}{e}{l}", "+1 ({a}) {e}-{l}", "1-{a}-{e}-{l}", "{a} {e} {l}",
        ]
    )  # fmt: skip
    return fmt.format(a=area, e=exch, l=line)


def gen_phone_uk(c: Ctx) -> str:
    rng = c.rng
    kind = rng.random()
    if kind < 0.5:  # mobile 07xxx xxxxxx
        body = "7" + rng.choice(["7", "8", "9", "5"]) + str(rng.randint(0, 9)) + digits(rng, 7)
        fmt = rng.choice(
            ["0{a} {b}", "0{a}{b}", "+44 {a} {b}", "+44{a}{b}", "0044 {a} {b}", "+44 (0){a} {b}"]
        )
        return fmt.format(a=body[:4], b=body[4:])
    if kind < 0.8:  # London 020 7xxx xxxx / 020 8xxx xxxx
        rest = rng.choice(["7", "8"]) + digits(rng, 7)
        fmt = rng.choice(["020 {a} {b}", "+44 20 {a} {b}", "+44 (0)20 {a} {b}", "(020) {a} {b}", "020{a}{b}"])
        return fmt.format(a=rest[:4], b=rest[4:])
    area = rng.choice(["161", "131", "141"])  # Manchester, Edinburgh, Glasgow
    rest = str(rng.randint(2, 8)) + digits(rng, 6)
    fmt = rng.choice(["0{c} {a} {b}", "+44 {c} {a} {b}", "(0{c}) {a} {b}"])
    return fmt.format(c=area, a=rest[:3], b=rest[3:])


def gen_phone_de(c: Ctx) -> str:
    rng = c.rng
    if rng.random() < 0.5:  # mobile 015x / 016x / 017x
        pre = rng.choice(["151", "152", "160", "170", "171", "172", "176", "177", "179"])
        sub = digits(rng, 7 if pre in {"160", "170", "171"} else 8)
        fmt = rng.choice(["0{p} {s}", "0{p}-{s}", "0{p}/{s}", "+49 {p} {s}", "+49{p}{s}", "0049 {p} {s}"])
        return fmt.format(p=pre, s=sub)
    area = rng.choice(["30", "89", "40", "221", "69", "711", "211"])
    sub = str(rng.randint(2, 9)) + digits(rng, 9 - len(area) if len(area) == 2 else 6)
    fmt = rng.choice(
        ["0{a} {s}", "0{a}/{s}", "+49 {a} {s}", "+49 (0){a} {s}", "(0{a}) {s}", "0{a}-{s}", "0{a} {s1} {s2}"]
    )
    return fmt.format(a=area, s=sub, s1=sub[:4], s2=sub[4:])


def gen_phone_fr(c: Ctx) -> str:
    rng = c.rng
    lead = rng.choice(["1", "2", "3", "4", "5", "6", "7", "9"])
    # mobiles: 06 except 063/069 (partly unallocated or overseas), 07 only from 073
    first = rng.choice({"6": "0124578", "7": "3456789"}.get(lead, "123456789"))
    rest = first + digits(rng, 7)
    pairs = [rest[i : i + 2] for i in range(0, 8, 2)]
    fmt = rng.random()
    if fmt < 0.35:
        return f"0{lead} " + " ".join(pairs)
    if fmt < 0.5:
        return f"0{lead}." + ".".join(pairs)
    if fmt < 0.6:
        return f"0{lead}" + "".join(pairs)
    if fmt < 0.85:
        return f"+33 {lead} " + " ".join(pairs)
    if fmt < 0.95:
        return f"+33 (0){lead} " + " ".join(pairs)
    return f"0033 {lead} " + " ".join(pairs)


def gen_phone_intl(c: Ctx) -> str:
    rng = c.rng
    d = lambda n: digits(rng, n)  # noqa: E731
    nz = lambda: str(rng.randint(2, 9))  # noqa: E731
    return rng.choice(
        [
            f"+31 20 {nz()}{d(2)} {d(4)}",
            f"+31 6 {rng.randint(1, 5)}{d(7)}",
            f"+34 6{d(2)} {d(3)} {d(3)}",
            f"+34 91 {nz()}{d(2)} {d(2)} {d(2)}",
            f"+39 06 {nz()}{d(3)} {d(4)}",
            f"+39 3{rng.choice('2345')}{d(1)} {d(3)} {d(4)}",
            f"+353 1 {nz()}{d(2)} {d(4)}",
            f"+353 8{rng.choice(['5', '6', '7'])} {nz()}{d(2)} {d(4)}",
            f"+61 2 {rng.choice('89')}{d(3)} {d(4)}",
            f"+61 4{rng.randint(0, 3)}{d(1)} {d(3)} {d(3)}",
            f"+91 9{d(4)} {d(5)}",
            f"+41 44 {nz()}{d(2)} {d(2)} {d(2)}",
            f"+41 79 {nz()}{d(2)} {d(2)} {d(2)}",
            f"+32 2 {rng.randint(2, 7)}{d(2)} {d(2)} {d(2)}",
            f"+32 47{d(1)} {d(2)} {d(2)} {d(2)}",
            f"+46 8 {nz()}{d(2)} {d(3)} {d(2)}",
            f"+55 11 9{d(4)}-{d(4)}",
            f"+81 3-{nz()}{d(3)}-{d(4)}",
            f"+1 416 {nz()}{d(2)} {d(4)}",
            f"+43 1 {nz()}{d(6)}",
        ]
    )


def gen_phone_intl_any(c: Ctx) -> str:
    number = gen_phone_intl(c)
    return "00" + number[1:] if c.rng.random() < 0.25 else number


def gen_phone(c: Ctx) -> str:
    r = c.rng.random()
    if r < 0.3:
        return gen_phone_us(c)
    if r < 0.55:
        return gen_phone_uk(c)
    if r < 0.7:
        return gen_phone_de(c)
    if r < 0.85:
        return gen_phone_fr(c)
    return gen_phone_intl_any(c)


def gen_card(c: Ctx) -> str:
    rng = c.rng
    brand = rng.choice(["visa", "visa", "mc", "mc2", "amex", "discover"])
    if brand == "amex":
        number = luhn_complete(rng.choice(["34", "37"]) + digits(rng, 12))
        return rng.choice([group(number, [4, 6, 5], " "), number, group(number, [4, 6, 5], "-")])
    prefix = {
        "visa": "4",
        "mc": "5" + str(rng.randint(1, 5)),
        "mc2": str(rng.randint(2221, 2720)),
        "discover": "6011",
    }[brand]
    number = luhn_complete(prefix + digits(rng, 15 - len(prefix)))
    return rng.choice([group(number, [4, 4, 4, 4], " "), group(number, [4, 4, 4, 4], "-"), number])


def _alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(n))


def gen_iban(c: Ctx) -> str:
    rng = c.rng
    country = rng.choice(["DE", "GB", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "IE", "PL", "PT", "SE"])
    bban = {
        "DE": lambda: digits(rng, 18),
        "GB": lambda: rng.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]) + digits(rng, 14),
        "FR": lambda: digits(rng, 10) + digits(rng, 11) + digits(rng, 2),
        "ES": lambda: digits(rng, 20),
        "IT": lambda: rng.choice(string.ascii_uppercase) + digits(rng, 10) + _alnum(rng, 12),
        "NL": lambda: rng.choice(["ABNA", "INGB", "RABO", "TRIO"]) + digits(rng, 10),
        "BE": lambda: digits(rng, 12),
        "CH": lambda: digits(rng, 5) + _alnum(rng, 12),
        "AT": lambda: digits(rng, 16),
        "IE": lambda: rng.choice(["AIBK", "BOFI"]) + digits(rng, 14),
        "PL": lambda: digits(rng, 24),
        "PT": lambda: digits(rng, 21),
        "SE": lambda: digits(rng, 20),
    }[country]()
    code = iban(country, bban)
    return group(code, [4] * 8, " ") if rng.random() < 0.6 else code


def gen_account_number(c: Ctx) -> str:
    rng = c.rng
    number = digits(rng, rng.choice([8, 8, 10, 12]))
    if len(number) >= 10 and rng.random() < 0.25:
        return group(number, [4, 4], " ")
    return number


def gen_sort_code(c: Ctx) -> str:
    sep = c.rng.choice(["-", "-", " ", ""])
    return sep.join(digits(c.rng, 2) for _ in range(3))


def gen_routing(c: Ctx) -> str:
    return aba_check_digit(c.rng.choice(["0", "1", "2", "3"]) + digits(c.rng, 7))


def gen_ipv4(c: Ctx) -> str:
    rng = c.rng
    return rng.choice(
        [
            f"192.168.{rng.randint(0, 5)}.{rng.randint(2, 254)}",
            f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"192.0.2.{rng.randint(1, 254)}",
            f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        ]
    )


def gen_ipv6(c: Ctx) -> str:
    rng = c.rng
    h = lambda: f"{rng.randint(0, 0xFFFF):x}"  # noqa: E731
    return rng.choice(
        [
            f"2001:db8:{h()}:{h()}::{h()}",
            f"2001:0db8:{rng.randint(0, 0xFFFF):04x}:0000:0000:{rng.randint(0, 0xFFFF):04x}:0042:8329",
            f"fe80::{h()}:{h()}:{h()}:{h()}",
            f"2a02:{h()}:{h()}:{h()}:{h()}:{h()}:{h()}:{h()}",
            f"2001:db8::{h()}",
        ]
    )


def gen_ip(c: Ctx) -> str:
    return gen_ipv6(c) if c.rng.random() < 0.4 else gen_ipv4(c)


# ---- non-PII fillers: things support tickets are full of that must NOT be flagged.


def gen_order(c: Ctx) -> str:
    rng = c.rng
    return rng.choice(
        [
            f"#{digits(rng, 7)}",
            f"A{digits(rng, 7)}",
            f"{digits(rng, 3)}-{digits(rng, 7)}-{digits(rng, 7)}",
            f"ORD-{rng.randint(2019, 2025)}-{digits(rng, 5)}",
            f"{rng.choice(string.ascii_uppercase)}{rng.choice(string.ascii_uppercase)}{digits(rng, 6)}",
        ]
    )


def gen_order10(c: Ctx) -> str:
    # Plain 9-10 digit order numbers, as many shops issue them: the hardest negative for a phone
    # detector, since many such runs are valid numbers somewhere.
    return str(c.rng.randint(1, 9)) + digits(c.rng, c.rng.choice([8, 9]))


def gen_tracking(c: Ctx) -> str:
    rng = c.rng
    return rng.choice(
        [
            f"1Z{_alnum(rng, 6)}{digits(rng, 10)}",
            f"JD{digits(rng, 16)}",
            f"{rng.choice(['RR', 'LX', 'CP'])}{digits(rng, 9)}GB",
            f"TBA{digits(rng, 12)}",
        ]
    )


def gen_amount(c: Ctx) -> str:
    rng = c.rng
    value = rng.randint(1, 250000) / 100
    return rng.choice(
        [f"${value:,.2f}", f"£{value:.2f}", f"€{value:.2f}".replace(".", ","), f"{value:.2f} EUR"]
    )


def gen_date(c: Ctx) -> str:
    rng = c.rng
    y, m, d = rng.randint(2021, 2025), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"{d:02d}/{m:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d}.{m}.{y}", f"{m}/{d}/{y}"])


def gen_ticket(c: Ctx) -> str:
    rng = c.rng
    return rng.choice(
        [f"INC{digits(rng, 7)}", f"CS-{digits(rng, 6)}", f"{digits(rng, 6)}", f"REQ{digits(rng, 5)}"]
    )


def gen_last4(c: Ctx) -> str:
    return digits(c.rng, 4)


def gen_bank(c: Ctx) -> str:
    return c.rng.choice(BANKS)


def gen_shop(c: Ctx) -> str:
    return c.rng.choice(SHOPS)


def gen_version(c: Ctx) -> str:
    rng = c.rng
    return f"{rng.randint(1, 17)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}"


GENERATORS: dict[str, tuple[str | None, Callable[[Ctx], str]]] = {
    "PERSON": ("PERSON", gen_person),
    "PERSON_LOWER": ("PERSON", gen_person_lower),
    "PERSON_UPPER": ("PERSON", gen_person_upper),
    "FIRST": ("PERSON", gen_first),
    "LAST": ("PERSON", gen_last),
    "EMAIL": ("EMAIL", gen_email),
    "PHONE": ("PHONE", gen_phone),
    "PHONE_US": ("PHONE", gen_phone_us),
    "PHONE_UK": ("PHONE", gen_phone_uk),
    "PHONE_DE": ("PHONE", gen_phone_de),
    "PHONE_FR": ("PHONE", gen_phone_fr),
    "PHONE_INTL": ("PHONE", gen_phone_intl_any),
    "CARD": ("CARD", gen_card),
    "IBAN": ("IBAN", gen_iban),
    "ACCOUNT": ("ACCOUNT", gen_account_number),
    "SORTCODE": ("ACCOUNT", gen_sort_code),
    "ROUTING": ("ACCOUNT", gen_routing),
    "IP": ("IP", gen_ip),
    "IPV4": ("IP", gen_ipv4),
    "IPV6": ("IP", gen_ipv6),
    "ORDER": (None, gen_order),
    "ORDER10": (None, gen_order10),
    "TRACKING": (None, gen_tracking),
    "AMOUNT": (None, gen_amount),
    "DATE": (None, gen_date),
    "TICKET": (None, gen_ticket),
    "LAST4": (None, gen_last4),
    "BANK": (None, gen_bank),
    "SHOP": (None, gen_shop),
    "VERSION": (None, gen_version),
}

# ---- templates by family; each slot {NAME} is filled by GENERATORS[NAME]. Companies and banks
# are ORG, not PERSON, and never annotated.

TEMPLATES: dict[str, list[str]] = {
    "email": [
        "Please send the invoice to {EMAIL} instead of my old address.",
        "My login email is {EMAIL} but the reset link never arrives.",
        "Can you update the contact address on my account to {EMAIL}?",
        "I never signed up with {EMAIL}, someone else is using it for a {SHOP} account.",
        "reply to {EMAIL} pls, not the address on file",
        "Contact: {EMAIL}. Order {ORDER} still not delivered.",
        "The confirmation for order {ORDER} went to {EMAIL} which has a typo.",
        "Email me at <{EMAIL}> when the replacement ships.",
        "Statements should go to {EMAIL}; I no longer use the paper ones.",
        "Hi team, forwarding from {EMAIL} as requested.",
        "Two accounts got merged (mine: {EMAIL}), please split them.",
    ],
    "phone": [
        "Please call me back on {PHONE} after 5pm.",
        "My new mobile number is {PHONE}, please update it.",
        "You can reach me at {PHONE} any time tomorrow.",
        "The SMS codes go to {PHONE} but I changed numbers last month.",
        "Tel: {PHONE}",
        "I tried calling from {PHONE} three times and got cut off.",
        "Please don't text {PHONE} anymore, it's my work phone.",
        "Best number to reach me is {PHONE_US}.",
        "Call me on {PHONE_UK} regarding the broadband fault.",
        "Meine Nummer ist {PHONE_DE}, bitte zurückrufen.",
        "Vous pouvez me joindre au {PHONE_FR} en journée.",
        "I'm travelling, reach me on {PHONE_INTL} until Friday.",
        "Landline {PHONE_UK} has had no dial tone since {DATE}.",
        "Port my number {PHONE} to the new SIM please.",
        "Missed call from {PHONE_US} about my claim - was that you?",
        "Whatsapp me on {PHONE_INTL} if easier.",
    ],
    "card": [
        "I was charged twice on my card {CARD} for order {ORDER}.",
        "Please refund to card number {CARD}, not store credit.",
        "My card {CARD} was declined even though it has funds.",
        "Someone used {CARD} at {SHOP} without my permission!",
        "card no {CARD} exp 08/27",
        "Saved card {CARD} - please remove it from my payment methods.",
        "I paid {AMOUNT} with {CARD} and the payment is still pending.",
        "New card number is {CARD}, the old one was cancelled.",
        "Cancel the subscription billed to {CARD} please",
    ],
    "iban": [
        "Please refund to my IBAN {IBAN}.",
        "IBAN: {IBAN} (account holder is me).",
        "I sent {AMOUNT} to {IBAN} but the payee says it never arrived.",
        "Direct debit should come from {IBAN} from next month.",
        "My new bank details: {IBAN}, please update the mandate.",
        "Transfer was made to {IBAN} on {DATE}, reference {ORDER}.",
        "Wrong IBAN on file, the right one is {IBAN}",
    ],
    "account": [
        "My account number is {ACCOUNT} with {BANK}.",
        "Please credit acct # {ACCOUNT} instead.",
        "Sort code {SORTCODE}, account number {ACCOUNT}.",
        "a/c no. {ACCOUNT}, sort code {SORTCODE}",
        "Routing number {ROUTING}, account {ACCOUNT} - please set up the ACH payment.",
        "The payment left account {ACCOUNT} on {DATE} but you say you never got it.",
        "Checking account: {ACCOUNT}",
        "Savings acct {ACCOUNT} shows a hold of {AMOUNT} I don't recognise.",
        "ABA {ROUTING}, acct no {ACCOUNT}.",
        "Please debit bank account {ACCOUNT} monthly.",
    ],
    "ip": [
        "My router at {IPV4} keeps dropping the connection.",
        "There was a login from {IP} that wasn't me.",
        "The static IP {IPV4} you assigned doesn't work.",
        "Blocked sign-in attempt from {IPV6} on {DATE}.",
        "Server {IPV4}:8080 times out since the update to {VERSION}.",
        "Please whitelist {IP} for the API.",
        "I see my IPv6 address as {IPV6}, is that right?",
    ],
    "person": [
        "My name is {PERSON} and I have a question about my bill.",
        "This is {PERSON}, I called yesterday about the refund.",
        "Dear support, my wife {PERSON} is the account holder.",
        "Kind regards,\n{PERSON}",
        "Please cancel the order for {PERSON}.",
        "I spoke with your agent {PERSON} who promised a callback.",
        "The parcel was addressed to {PERSON} but left at the wrong house.",
        "Hello, {PERSON} here - still waiting on the engineer visit.",
        "Can {PERSON} be added as an authorised user?",
        "Thanks {FIRST}, that fixed it!",
        "Mr {LAST} called about the late delivery.",
        "Many thanks,\n{FIRST}",
        "Dear Ms {LAST}, thank you for contacting us.",
        "hi its {PERSON_LOWER} again, still no refund",
        "NAME: {PERSON_UPPER}\nREASON: double charge",
    ],
    "mixed": [
        "Hi, I'm {PERSON}. Card {CARD} was charged {AMOUNT} twice, call me on {PHONE}.",
        "Name: {PERSON}\nEmail: {EMAIL}\nPhone: {PHONE}\nIssue: router at {IPV4} offline",
        "Refund {AMOUNT} to {IBAN} please. Contact {EMAIL} if there's a problem. - {PERSON}",
        "{PERSON} ({EMAIL}) asked to move the direct debit to account {ACCOUNT}.",
        "Customer {PERSON}, tel {PHONE}, reports login from {IP} not theirs.",
        "From: {EMAIL}\nSubject: order {ORDER}\nPlease call {PHONE}. Thanks, {FIRST}",
        "Card ending {LAST4} is fine but {CARD} was blocked. I'm {PERSON}, reach me on {PHONE}.",
        "Sort code {SORTCODE} account {ACCOUNT} in the name of {PERSON}.",
    ],
    "negative": [
        "Order {ORDER} was supposed to arrive on {DATE} but tracking {TRACKING} shows nothing.",
        "I was charged {AMOUNT} instead of {AMOUNT} for my last bill.",
        "Ticket {TICKET} is still open after three weeks.",
        "The app crashes on version {VERSION} whenever I open settings.",
        "My card ending in {LAST4} was charged twice on {DATE}.",
        "Please cancel order {ORDER}, I found it cheaper elsewhere.",
        "Refund of {AMOUNT} for order {ORDER} has not appeared yet.",
        "The broadband speed dropped to 12 Mbps since {DATE}.",
        "Your {BANK} app logs me out every 5 minutes.",
        "Parcel {TRACKING} is stuck in the depot since {DATE}.",
        "I would like to upgrade to the 100GB plan for {AMOUNT} a month.",
        "Reference {TICKET}: the replacement was faulty too.",
        "I bought 3 items from {SHOP} on {DATE} and only 2 arrived.",
        "Why did my direct debit go up by {AMOUNT} this month?",
        "Error 0x80070005 when I install version {VERSION}.",
        "The last four digits of the card are {LAST4}.",
        "My bill for {DATE} shows {AMOUNT} of roaming charges.",
        "Please send a new SIM, the old one says SIM not provisioned.",
        "The order {ORDER} contained the wrong size (EU 42 instead of 43).",
        "Account locked after 3 failed attempts, please help.",
        "Order number {ORDER10} never shipped, can I get an update?",
    ],
}

COUNTS = {
    "email": 44,
    "phone": 80,
    "card": 45,
    "iban": 40,
    "account": 35,
    "ip": 30,
    "person": 60,
    "mixed": 30,
    "negative": 84,
}

SLOT = re.compile(r"\{([A-Z0-9_]+)\}")


def render(template: str, rng: random.Random) -> tuple[str, list[dict[str, object]]]:
    """Fill a template's slots, recording each PII slot's span in the finished text."""
    ctx = Ctx(rng)
    parts: list[str] = []
    spans: list[dict[str, object]] = []
    pos, length = 0, 0
    for m in SLOT.finditer(template):
        literal = template[pos : m.start()]
        parts.append(literal)
        length += len(literal)
        kind, gen = GENERATORS[m.group(1)]
        value = gen(ctx)
        if kind is not None:
            spans.append({"kind": kind, "start": length, "end": length + len(value)})
        parts.append(value)
        length += len(value)
        pos = m.end()
    parts.append(template[pos:])
    return "".join(parts), spans


def build_cases(seed: int = SEED) -> list[dict[str, object]]:
    rng = random.Random(seed)
    cases: list[dict[str, object]] = []
    for family, n in COUNTS.items():
        templates = TEMPLATES[family]
        for i in range(n):
            # cycle through every template before repeating one, so each form is covered
            text, spans = render(templates[i % len(templates)], rng)
            for s in spans:  # the offsets must select exactly the generated value
                assert text[s["start"] : s["end"]].strip() == text[s["start"] : s["end"]]  # type: ignore[misc]
            cases.append({"id": len(cases), "group": family, "text": text, "spans": spans})
    return cases


def main() -> None:
    cases = build_cases()
    with OUT.open("w", encoding="utf-8") as f:
        for case in cases:
            f.write(json.dumps(case, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
