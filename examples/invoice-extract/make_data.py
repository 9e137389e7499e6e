# ruff: noqa: E501  (the hand-written document pieces are long lines of text)
"""Generate data/invoices.jsonl: invoices and receipts as they arrive by email, with the fields to extract.

Deterministic (fixed seed) and standard library only:

    python examples/invoice-extract/make_data.py

Every document is drawn from invented vendors in a dozen countries and rendered in one of eight
layouts (a plain-text invoice, a forwarded email, a till receipt, a German/French/Dutch invoice,
a SaaS receipt email, a freelancer's email, a utility bill, a badly OCR'd scan), each with its own
field names, date formats and number formats (1,234.56 / 1.234,56 / 1 234,56 / 1'234.56). The
gold fields are computed from the values drawn, not read back from the text:

- vendor: the issuer's name as printed on the document, legal suffix included;
- invoice_number: the invoice number (a receipt's number when there is no invoice number);
- invoice_date: YYYY-MM-DD;
- total_amount: the grand total including tax, as a number (not the subtotal, not a balance);
- currency: ISO 4217 code ($ alone is USD);
- due_date: YYYY-MM-DD when the document states a due date as a date, else null.

All names, addresses, numbers and companies are invented.
"""

from __future__ import annotations

import json
import random
import re
from datetime import date, timedelta
from pathlib import Path

SEED = 2718
OUT = Path(__file__).parent / "data" / "invoices.jsonl"
COUNT = 260

rng = random.Random(SEED)


def pick(items):
    return rng.choice(items)


def maybe(p: float) -> bool:
    return rng.random() < p


# --- locales -----------------------------------------------------------------------------------

MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
MONTHS_DE = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]
MONTHS_FR = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
MONTHS_NL = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
]

# code, thousands separator, decimal separator, symbol, symbol position, tax name, tax rates
LOCALES = {
    "US": dict(
        currency="USD", thou=",", dec=".", sym="$", before=True, tax="Sales tax", rates=[0, 6.25, 7.25, 8.875]
    ),
    "UK": dict(currency="GBP", thou=",", dec=".", sym="£", before=True, tax="VAT", rates=[20, 20, 0]),
    "DE": dict(currency="EUR", thou=".", dec=",", sym="€", before=False, tax="MwSt.", rates=[19, 19, 7]),
    "FR": dict(currency="EUR", thou=" ", dec=",", sym="€", before=False, tax="TVA", rates=[20, 20, 10]),
    "NL": dict(currency="EUR", thou=".", dec=",", sym="€", before=True, tax="BTW", rates=[21, 21, 9]),
    "CH": dict(currency="CHF", thou="'", dec=".", sym="CHF", before=True, tax="MWST", rates=[8.1, 8.1, 2.6]),
    # Scandinavian invoices print the code: "kr" alone would not say which krona or krone.
    "SE": dict(currency="SEK", thou=" ", dec=",", sym="SEK", before=False, tax="Moms", rates=[25, 25, 12]),
    "NO": dict(currency="NOK", thou=" ", dec=",", sym="NOK", before=True, tax="MVA", rates=[25]),
    "DK": dict(currency="DKK", thou=".", dec=",", sym="DKK", before=False, tax="Moms", rates=[25]),
    "PL": dict(currency="PLN", thou=" ", dec=",", sym="zł", before=False, tax="VAT", rates=[23, 23, 8]),
    "CA": dict(currency="CAD", thou=",", dec=".", sym="CA$", before=True, tax="HST", rates=[13, 13, 5]),
    "AU": dict(currency="AUD", thou=",", dec=".", sym="A$", before=True, tax="GST", rates=[10]),
    "JP": dict(currency="JPY", thou=",", dec="", sym="¥", before=True, tax="Consumption tax", rates=[10, 8]),
}
COUNTRY_WEIGHTS = {
    "US": 18,
    "UK": 16,
    "DE": 14,
    "FR": 8,
    "NL": 8,
    "CH": 5,
    "SE": 5,
    "NO": 3,
    "DK": 3,
    "PL": 4,
    "CA": 6,
    "AU": 6,
    "JP": 4,
}

CITIES = {
    "US": [
        ("Tacoma", "WA 98402"),
        ("Asheville", "NC 28801"),
        ("Boise", "ID 83702"),
        ("Madison", "WI 53703"),
        ("Santa Fe", "NM 87501"),
        ("Burlington", "VT 05401"),
        ("Dayton", "OH 45402"),
    ],
    "UK": [
        ("Leeds", "LS1 4DT"),
        ("Bristol", "BS1 5TR"),
        ("Norwich", "NR2 1AB"),
        ("Exeter", "EX4 3LS"),
        ("Glasgow", "G2 8JX"),
        ("York", "YO1 7HH"),
    ],
    "DE": [
        ("Freiburg", "79098"),
        ("Leipzig", "04109"),
        ("Münster", "48143"),
        ("Kassel", "34117"),
        ("Rostock", "18055"),
    ],
    "FR": [
        ("Nantes", "44000"),
        ("Lyon", "69002"),
        ("Rennes", "35000"),
        ("Dijon", "21000"),
        ("Lille", "59800"),
    ],
    "NL": [("Utrecht", "3511 AB"), ("Groningen", "9711 CV"), ("Haarlem", "2011 RS"), ("Delft", "2611 GP")],
    "CH": [("Bern", "3011"), ("Luzern", "6003"), ("Winterthur", "8400"), ("St. Gallen", "9000")],
    "SE": [("Uppsala", "753 20"), ("Malmö", "211 22"), ("Umeå", "903 26"), ("Örebro", "702 10")],
    "NO": [("Bergen", "5003"), ("Trondheim", "7011"), ("Tromsø", "9008")],
    "DK": [("Aarhus", "8000"), ("Odense", "5000"), ("Aalborg", "9000")],
    "PL": [("Kraków", "31-001"), ("Gdańsk", "80-001"), ("Poznań", "61-001"), ("Wrocław", "50-001")],
    "CA": [
        ("Halifax", "NS B3J 1S9"),
        ("Victoria", "BC V8W 1P6"),
        ("Kingston", "ON K7L 2Z1"),
        ("Calgary", "AB T2P 1J9"),
    ],
    "AU": [
        ("Hobart", "TAS 7000"),
        ("Geelong", "VIC 3220"),
        ("Newcastle", "NSW 2300"),
        ("Fremantle", "WA 6160"),
    ],
    "JP": [("Kyoto", "600-8216"), ("Sapporo", "060-0042"), ("Fukuoka", "810-0001"), ("Kanazawa", "920-0853")],
}
STREETS = {
    "US": ["Alder St", "Market Ave", "Riverside Dr", "Oak Hollow Rd", "Commerce Blvd", "Pine St"],
    "UK": ["Mill Lane", "Station Road", "Wharf Street", "Church Walk", "Kingsley Road", "Harbour Row"],
    "DE": ["Lindenstraße", "Am Markt", "Gartenweg", "Bahnhofstraße", "Mühlenweg", "Schillerstraße"],
    "FR": ["rue des Tanneurs", "avenue Jean Jaurès", "rue du Port", "boulevard Voltaire", "place du Marché"],
    "NL": ["Oudegracht", "Kerkstraat", "Havenweg", "Molenstraat", "Stationsplein"],
    "CH": ["Bahnhofstrasse", "Marktgasse", "Seeweg", "Kramgasse"],
    "SE": ["Storgatan", "Kungsgatan", "Hamngatan", "Järnvägsgatan"],
    "NO": ["Strandgaten", "Kongens gate", "Torggata"],
    "DK": ["Vestergade", "Søndergade", "Havnegade"],
    "PL": ["ul. Długa", "ul. Floriańska", "ul. Ogrodowa", "ul. Portowa"],
    "CA": ["Water St", "Queen St", "Harbour Rd", "Birch Ave"],
    "AU": ["Murray St", "Beach Rd", "Station St", "Wattle Ave"],
    "JP": ["Sanjo-dori", "Nishiki-koji", "Chuo 2-chome", "Kitahama 1-chome"],
}
SUFFIX = {
    "US": ["LLC", "Inc.", "Co.", ""],
    "UK": ["Ltd", "Ltd", "& Sons", ""],
    "DE": ["GmbH", "GmbH", "KG", "e.K."],
    "FR": ["SARL", "SAS", ""],
    "NL": ["B.V.", "B.V.", "V.O.F."],
    "CH": ["AG", "GmbH"],
    "SE": ["AB"],
    "NO": ["AS"],
    "DK": ["ApS", "A/S"],
    "PL": ["Sp. z o.o.", "s.c."],
    "CA": ["Ltd.", "Inc.", ""],
    "AU": ["Pty Ltd", "Pty Ltd", ""],
    "JP": ["Co., Ltd.", "K.K."],
}
SURNAMES = {
    "US": ["Whitaker", "Delgado", "Pruitt", "Okonkwo", "Castillo", "Brandt", "Hargrove", "Lindell"],
    "UK": ["Pennington", "Ashworth", "Blackmore", "Dunstan", "Fairweather", "Hollis", "Marsh", "Thorne"],
    "DE": ["Kranich", "Hoffmeister", "Lindner", "Baumgartner", "Wendt", "Ostermann", "Falk", "Reinholz"],
    "FR": ["Moreau", "Lefèvre", "Garnier", "Chevalier", "Rousseau", "Fontaine", "Aubert"],
    "NL": ["Van Dijk", "De Groot", "Visser", "Bakker", "Mulder", "Hendriks", "Van Leeuwen"],
    "CH": ["Brunner", "Gerber", "Ammann", "Zbinden", "Keller"],
    "SE": ["Lundqvist", "Berglund", "Sjöberg", "Holm", "Ekström"],
    "NO": ["Haugen", "Solberg", "Bakken", "Strand"],
    "DK": ["Kjær", "Møller", "Lund", "Dahl"],
    "PL": ["Nowak", "Wiśniewski", "Kowalczyk", "Zielińska", "Mazur"],
    "CA": ["MacLeod", "Tremblay", "Fraser", "Gagnon", "Boyd"],
    "AU": ["Harrington", "Nguyen", "Kowalski", "O'Brien", "Fletcher"],
    "JP": ["Kobayashi", "Morita", "Takeda", "Hayashi", "Inoue"],
}
NICE_WORDS = [
    "Blue Heron",
    "Summit Ridge",
    "Copper Kettle",
    "Northwind",
    "Lantern",
    "Saltmarsh",
    "Brightwater",
    "Fox Hollow",
    "Ironwood",
    "Meadowlark",
    "Tidewater",
    "Old Mill",
    "Granite Peak",
    "Silver Birch",
    "Red Kite",
    "Juniper",
    "Harbourlight",
    "Stonebridge",
    "Willow Creek",
    "Emberly",
]

# trade: (English name part, local names by country, line items [(description, low, high, unit)])
TRADES = {
    "plumbing": (
        "Plumbing",
        {"DE": "Sanitärtechnik", "FR": "Plomberie", "NL": "Loodgieters", "SE": "VVS", "PL": "Hydraulika"},
        [
            ("Call-out fee", 60, 95, "ea"),
            ("Labour", 45, 85, "hr"),
            ("Replace kitchen mixer tap", 90, 180, "ea"),
            ("Copper pipe 15mm", 6, 14, "m"),
            ("Radiator valve set", 25, 48, "ea"),
            ("Boiler service", 80, 140, "ea"),
            ("Drain unblocking", 70, 160, "ea"),
        ],
    ),
    "electrical": (
        "Electrical",
        {"DE": "Elektrotechnik", "FR": "Électricité", "NL": "Elektra", "SE": "El", "PL": "Elektryka"},
        [
            ("Labour (electrician)", 50, 90, "hr"),
            ("LED panel 60x60", 35, 70, "ea"),
            ("Consumer unit upgrade", 380, 620, "ea"),
            ("Socket outlet, double", 8, 18, "ea"),
            ("Safety inspection certificate", 120, 220, "ea"),
            ("Cable NYM 3x1.5", 1.2, 2.8, "m"),
        ],
    ),
    "web": (
        "Web Design",
        {"DE": "Webdesign", "FR": "Création Web", "NL": "Webdesign", "SE": "Webbyrå", "PL": "Studio Web"},
        [
            ("Website redesign, phase 2", 900, 2400, "ea"),
            ("Hosting (12 months)", 90, 240, "ea"),
            ("Content updates", 45, 95, "hr"),
            ("SEO audit", 300, 750, "ea"),
            ("Domain renewal", 12, 30, "ea"),
            ("Maintenance retainer", 150, 400, "mo"),
        ],
    ),
    "photo": (
        "Photography",
        {"DE": "Fotografie", "FR": "Photographie", "NL": "Fotografie", "SE": "Foto", "PL": "Fotografia"},
        [
            ("Product photography, half day", 350, 650, "ea"),
            ("Edited images", 8, 20, "ea"),
            ("Headshots session", 120, 260, "ea"),
            ("Travel", 0.45, 0.75, "km"),
            ("Image licence, 1 year web use", 150, 400, "ea"),
        ],
    ),
    "print": (
        "Print",
        {"DE": "Druckerei", "FR": "Imprimerie", "NL": "Drukkerij", "SE": "Tryckeri", "PL": "Drukarnia"},
        [
            ("Business cards, 500", 35, 70, "ea"),
            ("A5 flyers, 2,500", 90, 180, "ea"),
            ("Roll-up banner 85x200", 70, 140, "ea"),
            ("Letterheads, 1,000", 80, 150, "ea"),
            ("Design proof revisions", 25, 60, "hr"),
            ("Delivery", 8, 25, "ea"),
        ],
    ),
    "catering": (
        "Catering",
        {"DE": "Catering", "FR": "Traiteur", "NL": "Catering", "SE": "Catering", "PL": "Catering"},
        [
            ("Lunch buffet per person", 14, 32, "pp"),
            ("Coffee & pastries per person", 5, 11, "pp"),
            ("Staff, 4 hours", 90, 160, "ea"),
            ("Equipment hire", 40, 120, "ea"),
            ("Vegan option surcharge", 2, 5, "pp"),
        ],
    ),
    "cleaning": (
        "Cleaning",
        {"DE": "Gebäudereinigung", "FR": "Nettoyage", "NL": "Schoonmaak", "SE": "Städ", "PL": "Sprzątanie"},
        [
            ("Office cleaning, monthly", 380, 900, "mo"),
            ("Window cleaning", 60, 180, "ea"),
            ("Carpet deep clean", 4, 9, "m2"),
            ("Consumables", 20, 60, "ea"),
            ("Extra hours", 22, 38, "hr"),
        ],
    ),
    "it": (
        "IT Services",
        {"DE": "IT-Service", "FR": "Informatique", "NL": "ICT", "SE": "IT-tjänster", "PL": "Usługi IT"},
        [
            ("Managed support, per device", 18, 40, "mo"),
            ("On-site visit", 70, 130, "ea"),
            ("Laptop setup", 60, 120, "ea"),
            ("Backup storage 1 TB", 8, 20, "mo"),
            ("Firewall licence renewal", 180, 450, "ea"),
            ("Remote support", 55, 95, "hr"),
        ],
    ),
    "coffee": (
        "Coffee Roasters",
        {
            "DE": "Kaffeerösterei",
            "FR": "Torréfaction",
            "NL": "Koffiebranderij",
            "SE": "Kafferosteri",
            "PL": "Palarnia Kawy",
        },
        [
            ("Espresso blend 1kg", 18, 32, "kg"),
            ("Single origin 250g", 7, 14, "ea"),
            ("Oat milk 1L x 6", 9, 15, "ea"),
            ("Grinder service", 60, 110, "ea"),
            ("Paper cups 8oz x 1000", 35, 60, "ea"),
        ],
    ),
    "translation": (
        "Translations",
        {
            "DE": "Übersetzungen",
            "FR": "Traductions",
            "NL": "Vertalingen",
            "SE": "Översättningar",
            "PL": "Tłumaczenia",
        },
        [
            ("Translation EN>DE", 0.09, 0.16, "word"),
            ("Proofreading", 35, 60, "hr"),
            ("Certified translation", 45, 90, "page"),
            ("Rush surcharge", 40, 120, "ea"),
        ],
    ),
    "garden": (
        "Landscaping",
        {"DE": "Gartenbau", "FR": "Paysagiste", "NL": "Hoveniers", "SE": "Trädgård", "PL": "Ogrody"},
        [
            ("Hedge trimming", 80, 220, "ea"),
            ("Lawn mowing (monthly)", 90, 180, "mo"),
            ("Green waste removal", 40, 90, "ea"),
            ("Labour", 35, 60, "hr"),
            ("Mulch, 1m3", 45, 80, "ea"),
        ],
    ),
    "courier": (
        "Couriers",
        {"DE": "Kurierdienst", "FR": "Coursiers", "NL": "Koeriers", "SE": "Bud", "PL": "Kurier"},
        [
            ("Same-day delivery, zone 2", 18, 40, "ea"),
            ("Pallet transport", 85, 190, "ea"),
            ("Fuel surcharge", 5, 25, "ea"),
            ("Waiting time", 15, 30, "hr"),
        ],
    ),
    "accounting": (
        "Accounting",
        {
            "DE": "Steuerberatung",
            "FR": "Expertise Comptable",
            "NL": "Administratie",
            "SE": "Redovisning",
            "PL": "Biuro Rachunkowe",
        },
        [
            ("Annual accounts preparation", 600, 1600, "ea"),
            ("Bookkeeping, monthly", 120, 380, "mo"),
            ("Payroll (per employee)", 8, 18, "mo"),
            ("Tax return", 180, 450, "ea"),
            ("Advisory call", 60, 140, "hr"),
        ],
    ),
    "florist": (
        "Flowers",
        {"DE": "Blumen", "FR": "Fleurs", "NL": "Bloemen", "SE": "Blommor", "PL": "Kwiaty"},
        [
            ("Reception arrangement, weekly", 45, 95, "ea"),
            ("Table centrepieces", 18, 40, "ea"),
            ("Delivery", 6, 15, "ea"),
            ("Seasonal bouquet", 25, 60, "ea"),
        ],
    ),
}
SAAS = [
    "Trellisly",
    "Pagewell",
    "Quillbox",
    "Stackhaven",
    "Notewright",
    "Ledgerfox",
    "Parcelpath",
    "Formsmith",
    "Shiftgrid",
    "Brightdesk",
    "Inkpond",
    "Tallyroom",
]
STORES = {
    "US": ["Cedar & Pine Hardware", "Greenleaf Market", "Harbor Office Supply", "Two Rivers Books"],
    "UK": ["Kingsley Hardware Ltd", "The Corner Larder", "Mill Lane Stationers", "Wharfside DIY Ltd"],
    "DE": ["Baumarkt Falk GmbH", "Bürobedarf Wendt", "Feinkost Lindner", "Buchhandlung am Markt"],
    "FR": ["Quincaillerie Aubert", "Papeterie du Port", "Épicerie Fontaine"],
    "NL": ["Bouwmarkt Visser B.V.", "Kantoorboekhandel De Groot", "Bakkerij Mulder"],
    "CH": ["Papeterie Keller AG", "Eisenwaren Brunner AG"],
    "SE": ["Järnhandel Holm AB", "Kontorsvaror Berglund AB"],
    "NO": ["Strand Jernvare AS"],
    "DK": ["Møller Isenkram ApS"],
    "PL": ["Sklep Papierniczy Mazur s.c."],
    "CA": ["Harbourfront Hardware Ltd.", "Birch Ave Books"],
    "AU": ["Wattle Hardware Pty Ltd", "Beach Rd Stationers"],
    "JP": ["Kanazawa Stationery Co., Ltd."],
}
STORE_ITEMS = [
    ("Copy paper A4 500 sh", 4, 9),
    ("Wood screws 4x40 (200)", 6, 12),
    ("Masking tape", 2, 5),
    ("Notebook", 3, 9),
    ("Cable ties (100)", 3, 8),
    ("Batteries AA x8", 6, 14),
    ("Coffee beans 1kg", 14, 26),
    ("Printer ink", 18, 45),
    ("Extension lead", 9, 22),
    ("Sandpaper assorted", 4, 10),
    ("Shipping boxes x10", 8, 18),
    ("Milk 2L", 1.2, 3),
    ("Paint brush set", 7, 16),
    ("Desk lamp", 19, 49),
    ("Bin bags (50)", 4, 9),
    ("Highlighters x4", 3, 7),
]

CUSTOMERS = [
    "Marlow & Finch Architects",
    "Okafor Spice Co.",
    "Little Fern Bakery",
    "Northgate Auto Parts",
    "Pinecrest Pharmacy",
    "Quarry Lane Books",
    "Riverbend Electronics",
    "Starling Cosmetics",
    "Thistle Warehouse Ltd",
    "Wren & Ivy Florist",
    "Cobalt Cycle Works",
    "Hollowpine Records",
    "Greenhollow Farm Shop",
    "Juniper Dental Practice",
    "Atelier Nord",
    "Studio Kwast",
]
PEOPLE = [
    "Maren Lindqvist",
    "Tobias Brennan",
    "Aisha Okafor",
    "Declan Moreau",
    "Ines Castellano",
    "Kofi Mbeki",
    "Lucia Varga",
    "Rafael Quintero",
    "Yuki Tanaka",
    "Hannah Abernethy",
    "Jonas Thorsen",
    "Greta Falk",
    "Priya Raman",
    "Owen Achterberg",
    "Sofie Visser",
    "Tomasz Nowak",
]


# --- formatting ----------------------------------------------------------------------------------


def fmt_number(x: float, loc: dict, *, thousands: bool = True) -> str:
    if loc["currency"] == "JPY":
        text = f"{round(x):,}"
        return text.replace(",", loc["thou"]) if thousands else text.replace(",", "")
    whole, frac = f"{x:,.2f}".split(".")
    whole = whole.replace(",", loc["thou"] if thousands else "")
    return f"{whole}{loc['dec']}{frac}"


def fmt_money(x: float, loc: dict, style: str | None = None) -> str:
    """An amount as the locale writes it, with its symbol or code."""
    style = style or pick(["symbol", "symbol", "symbol", "code"])
    num = fmt_number(x, loc, thousands=maybe(0.85))
    if style == "code":
        return f"{num} {loc['currency']}" if maybe(0.5) else f"{loc['currency']} {num}"
    sym = loc["sym"]
    if loc["before"]:
        return f"{sym}{num}" if len(sym) == 1 or sym.endswith("$") else f"{sym} {num}"
    return f"{num} {sym}"


DATE_STYLE = [0]  # one style per document, set by new_document(), so a document is consistent


def new_document() -> None:
    DATE_STYLE[0] = rng.randint(0, 10**6)


def fmt_date(d: date, country: str, lang: str = "en") -> str:
    """A date the way a document from ``country`` in ``lang`` prints it (the same way throughout
    one document). Slash dates only when the day is above 12, so that day and month can never be
    confused; other days fall back to the first style."""
    style = random.Random(DATE_STYLE[0])

    def pick(opts):  # the same choice for every date in one document
        return style.choice(opts)

    if lang == "de":
        return pick(
            [d.strftime("%d.%m.%Y"), f"{d.day}. {MONTHS_DE[d.month - 1]} {d.year}", d.strftime("%d.%m.%Y")]
        )
    if lang == "fr":
        opts = [
            f"{d.day} {MONTHS_FR[d.month - 1]} {d.year}",
            d.strftime("%d.%m.%Y"),
            d.strftime("%d/%m/%Y") if d.day > 12 else f"{d.day} {MONTHS_FR[d.month - 1]} {d.year}",
        ]
        return pick(opts)
    if lang == "nl":
        return pick([d.strftime("%d-%m-%Y"), f"{d.day} {MONTHS_NL[d.month - 1]} {d.year}"])
    month, mon = MONTHS_EN[d.month - 1], MONTHS_EN[d.month - 1][:3]
    opts = [d.isoformat()]
    if country in ("US",):
        opts += [
            f"{month} {d.day}, {d.year}",
            f"{mon} {d.day}, {d.year}",
            f"{mon} {d.day} {d.year}",
            d.strftime("%m/%d/%Y") if d.day > 12 else d.isoformat(),
        ]
    elif country in ("UK", "AU"):
        opts += [
            f"{d.day} {month} {d.year}",
            f"{d.day} {mon} {d.year}",
            f"{d.day:02d}-{mon}-{d.year}",
            d.strftime("%d/%m/%Y") if d.day > 12 else d.isoformat(),
        ]
    elif country == "CA":
        opts += [f"{month} {d.day}, {d.year}", d.isoformat()]
    elif country == "JP":
        opts += [d.strftime("%Y/%m/%d"), d.isoformat()]
    elif country in ("DE", "CH", "PL", "NO", "DK"):
        opts += [d.strftime("%d.%m.%Y"), f"{d.day} {month} {d.year}"]
    elif country == "SE":
        opts += [d.isoformat(), f"{d.day} {month} {d.year}"]
    else:
        opts += [f"{d.day} {month} {d.year}", d.strftime("%d.%m.%Y")]
    return pick(opts)


# --- drawing one document's facts ------------------------------------------------------------------


def vendor_for(country: str, trade: str) -> str:
    en, local, _ = TRADES[trade]
    suffix = pick(SUFFIX[country])
    name = pick(SURNAMES[country])
    if country in ("DE", "FR", "NL", "SE", "PL") and maybe(0.7):
        base = pick([f"{name} {local[country]}", f"{local[country]} {name}"])
    elif country in ("US", "UK", "CA", "AU") and maybe(0.5):
        base = f"{pick(NICE_WORDS)} {en}"
    else:
        base = f"{name} {en}"
    return f"{base} {suffix}".strip()


def invoice_number(country: str, d: date) -> str:
    y, yy = d.year, d.year % 100
    n = rng.randint(1, 9999)
    return pick(
        [
            f"INV-{y}-{n:04d}",
            f"INV-{rng.randint(100, 99999):05d}",
            f"{rng.randint(1000, 99999)}",
            f"{y}/{n:03d}",
            f"{pick(['RE', 'R', 'F', 'FA', 'SI', 'A'])}-{rng.randint(1000, 99999)}",
            f"{pick(['HC', 'BW', 'KR', 'NW', 'LM'])}-{yy}-{n:03d}",
            f"{y}{n:04d}",
            f"F{y}-{n:04d}",
            f"{rng.randint(10, 99)}-{rng.randint(10000, 99999)}",
        ]
    )


def draw_date() -> date:
    return date(2023, 1, 1) + timedelta(days=rng.randint(0, 900))


def line_items(trade: str, loc: dict) -> list[tuple[str, float, float]]:
    items = rng.sample(TRADES[trade][2], rng.randint(1, min(4, len(TRADES[trade][2]))))
    rows = []
    scale = (
        150
        if loc["currency"] == "JPY"
        else (10 if loc["currency"] in ("SEK", "NOK", "DKK") else (4 if loc["currency"] == "PLN" else 1))
    )
    for desc, lo, hi, unit in items:
        qty = {
            "hr": rng.randint(1, 16),
            "m": rng.randint(2, 40),
            "pp": rng.randint(8, 60),
            "km": rng.randint(10, 120),
            "word": rng.randint(400, 6000),
            "m2": rng.randint(20, 140),
            "mo": rng.randint(1, 3),
            "kg": rng.randint(2, 20),
            "page": rng.randint(1, 12),
        }.get(unit, rng.randint(1, 4))
        price = round(rng.uniform(lo, hi) * scale, 0 if loc["currency"] == "JPY" else 2)
        rows.append((desc, qty, price))
    return rows


def totals(rows, rate: float, loc: dict) -> tuple[float, float, float]:
    digits = 0 if loc["currency"] == "JPY" else 2
    sub = round(sum(q * p for _, q, p in rows), digits)
    tax = round(sub * rate / 100, digits)
    return sub, tax, round(sub + tax, digits)


def iban(country: str) -> str:
    cc = {
        "DE": "DE",
        "FR": "FR",
        "NL": "NL",
        "UK": "GB",
        "CH": "CH",
        "SE": "SE",
        "NO": "NO",
        "DK": "DK",
        "PL": "PL",
    }.get(country, "GB")
    length = {"DE": 18, "FR": 23, "NL": 14, "GB": 18, "CH": 17, "SE": 20, "NO": 11, "DK": 14, "PL": 24}[cc]
    if cc == "NL":
        bban = "KSTB" + "".join(str(rng.randint(0, 9)) for _ in range(10))
    elif cc == "GB":
        bban = "KSTB" + "".join(str(rng.randint(0, 9)) for _ in range(14))
    else:
        bban = "".join(str(rng.randint(0, 9)) for _ in range(length))
    numeric = "".join(str(int(c, 36)) for c in bban + cc + "00")
    text = f"{cc}{98 - int(numeric) % 97:02d}{bban}"
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def phone(country: str) -> str:
    local = {
        "US": lambda: f"({pick(['206', '828', '208', '608', '505'])}) 555-01{rng.randint(10, 99)}",
        "CA": lambda: f"({pick(['902', '250', '613'])}) 555-01{rng.randint(10, 99)}",
        "UK": lambda: f"0113 496 0{rng.randint(100, 999)}",
        "AU": lambda: f"(02) 5550 {rng.randint(1000, 9999)}",
        "DE": lambda: f"+49 761 {rng.randint(100000, 999999)}",
        "FR": lambda: f"+33 2 40 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
        "NL": lambda: f"+31 30 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "JP": lambda: f"+81 75-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
    }
    if country in local:
        return local[country]()
    code = {"CH": "41", "SE": "46", "NO": "47", "DK": "45", "PL": "48"}[country]
    return (
        f"+{code} {rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
    )


def slug(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower().split(" ")[0])[:12] or "billing"


def draw_invoice() -> dict:
    country = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
    loc = LOCALES[country]
    trade = pick(list(TRADES))
    d = draw_date()
    rows = line_items(trade, loc)
    rate = pick(loc["rates"])
    sub, tax, total = totals(rows, rate, loc)
    terms = rng.choice([7, 14, 14, 30, 30, 30, 45, 60])
    city, post = pick(CITIES[country])
    vendor = vendor_for(country, trade)
    return dict(
        country=country,
        loc=loc,
        trade=trade,
        date=d,
        rows=rows,
        rate=rate,
        sub=sub,
        tax=tax,
        total=total,
        terms=terms,
        due=d + timedelta(days=terms),
        vendor=vendor,
        number=invoice_number(country, d),
        address=f"{rng.randint(2, 180)} {pick(STREETS[country])}",
        city=f"{post} {city}"
        if country in ("DE", "FR", "NL", "CH", "SE", "NO", "DK", "PL")
        else f"{city} {post}",
        email=f"{pick(['billing', 'accounts', 'invoices', 'office', 'hello'])}@{slug(vendor)}.example.com",
        phone=phone(country),
        customer=pick(CUSTOMERS),
        person=pick(PEOPLE),
        po=f"PO-{rng.randint(1000, 99999)}" if maybe(0.3) else None,
        customer_no=f"{pick(['C', 'K', 'CU', 'KD'])}{rng.randint(1000, 99999)}" if maybe(0.4) else None,
    )


# --- layouts: each returns (text, gold) -----------------------------------------------------------


def gold(
    inv: dict, *, due: bool, number: str | None = None, vendor: str | None = None, total: float | None = None
) -> dict:
    return {
        "vendor": vendor or inv["vendor"],
        "invoice_number": number or inv["number"],
        "invoice_date": inv["date"].isoformat(),
        "total_amount": inv["total"] if total is None else total,
        "currency": inv["loc"]["currency"],
        "due_date": inv["due"].isoformat() if due else None,
    }


def item_lines(inv: dict, width: int = 44) -> list[str]:
    loc = inv["loc"]
    out = []
    style = rng.randint(0, 2)
    for desc, qty, price in inv["rows"]:
        amount = qty * price
        if style == 0:
            out.append(
                f"{desc[:width]:<{width}} {qty:>5} x {fmt_number(price, loc):>9} {fmt_number(amount, loc):>11}"
            )
        elif style == 1:
            out.append(f"- {desc} ({qty} @ {fmt_number(price, loc)}): {fmt_number(amount, loc)}")
        else:
            out.append(f"{qty}  {desc}  {fmt_number(amount, loc)}")
    return out


def tax_label(inv: dict) -> str:
    rate = inv["rate"]
    r = f"{rate:g}".replace(".", inv["loc"]["dec"] or ".")
    return f"{inv['loc']['tax']} {r}%" if rate else f"{inv['loc']['tax']} (0%)"


def layout_classic(inv: dict) -> tuple[str, dict]:
    loc = inv["loc"]
    label_no = pick(["Invoice No:", "Invoice #", "Invoice number:", "Inv. no.", "INVOICE NO.", "Invoice:"])
    label_date = pick(["Date:", "Invoice date:", "Issued:", "Date of issue:", "Invoice date"])
    show_due = maybe(0.7)
    due_text = ""
    if show_due:
        due_text = pick(
            [
                f"Due date: {fmt_date(inv['due'], inv['country'])}",
                f"Payment due: {fmt_date(inv['due'], inv['country'])}",
                f"Please pay by {fmt_date(inv['due'], inv['country'])}",
                f"Due: {fmt_date(inv['due'], inv['country'])}",
            ]
        )
    else:
        due_text = pick(
            [
                f"Terms: Net {inv['terms']}",
                f"Payment terms: {inv['terms']} days",
                "Payment due on receipt",
                "",
            ]
        )
    head = [inv["vendor"].upper() if maybe(0.3) else inv["vendor"], inv["address"], inv["city"]]
    if maybe(0.6):
        head.append(
            pick(
                [
                    f"Tel {inv['phone']}",
                    f"T: {inv['phone']}",
                    inv["email"],
                    f"{inv['email']} | {inv['phone']}",
                ]
            )
        )
    if inv["country"] in ("UK", "DE", "FR", "NL") and maybe(0.5):
        head.append(
            f"VAT reg. no. {inv['country'] if inv['country'] != 'UK' else 'GB'}{rng.randint(100000000, 999999999)}"
        )
    meta = [f"{label_no} {inv['number']}", f"{label_date} {fmt_date(inv['date'], inv['country'])}"]
    if inv["po"]:
        meta.append(f"Your ref: {inv['po']}")
    if inv["customer_no"]:
        meta.append(f"Customer no.: {inv['customer_no']}")
    if maybe(0.3):
        meta.append(
            f"Delivery date: {fmt_date(inv['date'] - timedelta(days=rng.randint(1, 20)), inv['country'])}"
        )
    rng.shuffle(meta)
    bill = [pick(["Bill to:", "Invoice to:", "Billed to:", "To:"]), inv["customer"]]
    if maybe(0.5):
        bill.append(f"Attn: {inv['person']}")
    deposit = (
        round(inv["total"] * pick([0.2, 0.25, 0.3, 0.5]), 0 if loc["currency"] == "JPY" else 2)
        if maybe(0.12)
        else 0
    )
    total_label = pick(
        ["TOTAL", "Total", "Invoice total", "Grand total"]
        if deposit
        else ["TOTAL", "Total", "Total due", "Amount due", "Invoice total", "Grand total", "Balance due"]
    )
    lines = [
        *head,
        "",
        "INVOICE" if maybe(0.7) else "Tax invoice",
        "",
        *meta,
        "",
        *bill,
        "",
        *item_lines(inv),
        "",
        f"Subtotal: {fmt_money(inv['sub'], loc)}",
    ]
    if inv["rate"] or maybe(0.5):
        lines.append(f"{tax_label(inv)}: {fmt_money(inv['tax'], loc)}")
    lines.append(f"{total_label}: {fmt_money(inv['total'], loc)}")
    if deposit:
        lines += [
            f"{pick(['Less deposit paid', 'Deposit received', 'Paid on account'])}: -{fmt_money(deposit, loc)}",
            f"{pick(['Balance due', 'Amount now due', 'Remaining balance'])}: {fmt_money(inv['total'] - deposit, loc)}",
        ]
    if due_text:
        lines += ["", due_text]
    if maybe(0.5):
        iban_land = inv["country"] in ("UK", "DE", "FR", "NL", "CH", "SE", "NO", "DK", "PL")
        pay = pick(
            [
                f"Bank transfer to IBAN {iban(inv['country'])}"
                if iban_land
                else f"ACH: routing and account number on file with {inv['customer']}",
                f"Pay online at pay.{slug(inv['vendor'])}.example.com",
                "Cheques payable to " + inv["vendor"],
                f"Please quote {inv['number']} with your payment.",
            ]
        )
        lines += [pay]
    if maybe(0.3):
        lines.append(
            pick(
                [
                    "Thank you for your business!",
                    "Thanks!",
                    "We appreciate your prompt payment.",
                    "Late payments may incur interest at 8% above base rate.",
                ]
            )
        )
    return "\n".join(lines), gold(inv, due=show_due)


def layout_forward(inv: dict) -> tuple[str, dict]:
    loc = inv["loc"]
    show_due = maybe(0.6)
    when = fmt_date(inv["date"], inv["country"])
    sender = inv["email"]
    note = pick(
        [
            "Can you log this one? Thanks",
            "FYI - for this month's books",
            "Another one for accounts payable.",
            "Please pay this before Friday if possible.",
            "Forwarding as discussed. The PDF is attached to the original.",
            "This one came to my inbox by mistake.",
            "Hi, please process. Approved by me.",
            "",
        ]
    )
    body = pick(
        [
            f"Dear {inv['customer']},\n\nPlease find attached invoice {inv['number']} dated {when} for {pick(['the work carried out last month', 'our recent services', 'your order', 'the agreed project milestone'])}. The total amount is {fmt_money(inv['total'], loc)} (including {loc['tax']}).",
            f"Hello,\n\nAttached is our invoice no. {inv['number']} of {when}. Amount: {fmt_money(inv['total'], loc)} incl. tax, net {fmt_money(inv['sub'], loc)}.",
            f"Hi {inv['person'].split()[0]},\n\nHere's invoice {inv['number']} for {fmt_money(inv['total'], loc)}. It's dated {when}.",
            f"Good afternoon,\n\nOur invoice {inv['number']} issued on {when} is attached. Subtotal {fmt_money(inv['sub'], loc)}, {loc['tax']} {fmt_money(inv['tax'], loc)}, total {fmt_money(inv['total'], loc)}.",
        ]
    )
    if show_due:
        body += " " + pick(
            [
                f"Payment is due by {fmt_date(inv['due'], inv['country'])}.",
                f"Due date: {fmt_date(inv['due'], inv['country'])}.",
                f"Kindly settle it by {fmt_date(inv['due'], inv['country'])}.",
            ]
        )
    else:
        body += " " + pick(
            [
                f"Our terms are {inv['terms']} days.",
                "Payment on receipt, please.",
                "Thank you for your prompt payment.",
                "",
            ]
        )
    if maybe(0.4):
        body += "\n\n" + pick(
            [
                f"Bank details: {iban(inv['country'])}"
                if inv["country"] not in ("US", "CA", "AU", "JP")
                else "Bank details are on the invoice.",
                f"Reference: {inv['po'] or inv['number']}",
                "If you have any questions about this invoice, just reply to this email.",
            ]
        )
    sign = f"\n\nKind regards,\n{pick(PEOPLE)}\n{inv['vendor']}\n{inv['phone'] if maybe(0.5) else sender}"
    fwd_date = inv["date"] + timedelta(days=rng.randint(0, 6))
    text = (
        (f"{note}\n\n" if note else "")
        + "---------- Forwarded message ---------\n"
        + f"From: {inv['vendor'] if maybe(0.5) else 'Accounts'} <{sender}>\n"
        + f"Date: {fwd_date.strftime('%a, %d %b %Y')} {rng.randint(8, 17)}:{rng.randint(0, 59):02d}\n"
        + f"Subject: Invoice {inv['number']}{pick(['', ' from ' + inv['vendor'], ' - payment request'])}\n"
        + f"To: {inv['person'].lower().replace(' ', '.')}@example.org\n\n"
        + body
        + sign
    )
    return text, gold(inv, due=show_due)


def layout_receipt(inv: dict) -> tuple[str, dict]:
    country = inv["country"]
    loc = inv["loc"]
    store = pick(STORES[country])
    scale = (
        150
        if loc["currency"] == "JPY"
        else (10 if loc["currency"] in ("SEK", "NOK", "DKK") else (4 if loc["currency"] == "PLN" else 1))
    )
    items = rng.sample(STORE_ITEMS, rng.randint(1, 6))
    rows = [
        (d, rng.randint(1, 3), round(rng.uniform(lo, hi) * scale, 0 if loc["currency"] == "JPY" else 2))
        for d, lo, hi in items
    ]
    total = round(sum(q * p for _, q, p in rows), 0 if loc["currency"] == "JPY" else 2)
    number = pick(
        [
            f"{rng.randint(1000, 9999)}-{rng.randint(100, 999)}",
            f"R{rng.randint(100000, 999999)}",
            f"{rng.randint(10, 99)}/{rng.randint(1000, 9999)}",
            f"{rng.randint(100000, 9999999)}",
        ]
    )
    d = inv["date"]
    t = f"{rng.randint(8, 19):02d}:{rng.randint(0, 59):02d}"
    lines = [store.upper() if maybe(0.6) else store, inv["address"], inv["city"]]
    if maybe(0.4):
        lines.append(f"Tel. {inv['phone']}")
    lines += [
        "",
        pick(
            [
                f"Receipt #{number}",
                f"Receipt no. {number}",
                f"Bon-Nr. {number}" if country in ("DE", "CH") else f"Trans. {number}",
                f"RECEIPT {number}",
            ]
        ),
    ]
    # Date and time on their own lines: "23.02.2023 14:09" reads as a phone number to the PII scan.
    lines += pick(
        [
            [f"Date: {fmt_date(d, country)}", f"Time: {t}"],
            [f"{fmt_date(d, country)}", f"{t}"],
            [f"Time {t}", f"Date {fmt_date(d, country)}"],
        ]
    )
    lines.append(f"Till {rng.randint(1, 6)}  Op. {rng.randint(10, 99)}")
    lines.append("-" * 32)
    for desc, q, p in rows:
        amt = fmt_number(q * p, loc)
        lines.append(
            f"{desc[:22]:<22}{amt:>10}"
            if q == 1
            else f"{q} x {fmt_number(p, loc)}\n  {desc[:20]:<20}{amt:>10}"
        )
    lines.append("-" * 32)
    total_text = fmt_money(total, loc)
    lines.append(
        pick(
            [
                f"TOTAL {total_text:>25}",
                f"TOTAL      {total_text}",
                f"Total: {total_text}",
                f"SUMME {total_text}" if country == "DE" else f"AMOUNT {total_text}",
            ]
        )
    )
    if loc["rates"][0]:
        lines.append(f"incl. {loc['tax']} {fmt_number(total - total / (1 + loc['rates'][0] / 100), loc)}")
    paid = pick(["CARD", "VISA", "Debit card", "CASH", "Contactless"])
    if paid == "CASH":
        given = round(total + rng.choice([0.5, 1, 5, 10]) * scale, 2)
        lines += [f"CASH {fmt_number(given, loc):>26}", f"CHANGE {fmt_number(given - total, loc):>24}"]
    else:
        lines += [f"{paid} ****{rng.randint(1000, 9999)}", f"Paid {fmt_number(total, loc)}"]
    lines += [
        "",
        pick(
            [
                "Thank you for shopping with us!",
                "Please keep your receipt.",
                "Returns within 28 days with receipt.",
                "Danke für Ihren Einkauf!" if country == "DE" else "See you soon!",
            ]
        ),
    ]
    g = {
        "vendor": store,
        "invoice_number": number,
        "invoice_date": d.isoformat(),
        "total_amount": total,
        "currency": loc["currency"],
        "due_date": None,
    }
    return "\n".join(lines), g


def layout_european(inv: dict) -> tuple[str, dict]:
    """A German, French or Dutch invoice (the vendor's locale decides the formats)."""
    country = inv["country"]
    lang = {"DE": "de", "CH": "de", "FR": "fr", "NL": "nl"}.get(country, pick(["de", "fr", "nl"]))
    loc = inv["loc"]
    show_due = maybe(0.7)
    words = {
        "de": dict(
            inv="Rechnung",
            no=pick(["Rechnungsnummer:", "Rechnungs-Nr.", "Rechnung Nr."]),
            date=pick(["Rechnungsdatum:", "Datum:"]),
            sub="Zwischensumme",
            net="Nettobetrag",
            total=pick(["Gesamtbetrag", "Rechnungsbetrag", "Summe brutto"]),
            due=pick(["Zahlbar bis", "Fällig am", "Zahlungsziel:"]),
            terms=f"Zahlbar innerhalb von {inv['terms']} Tagen ohne Abzug.",
            qty="Menge",
            desc="Bezeichnung",
            cust="Kunden-Nr.",
            thanks="Vielen Dank für Ihren Auftrag!",
            to="Rechnungsempfänger:",
            deliv="Lieferdatum:",
        ),
        "fr": dict(
            inv="Facture",
            no=pick(["Facture n°", "N° de facture :", "Numéro :"]),
            date=pick(["Date :", "Date de facture :"]),
            sub="Total HT",
            net="Total HT",
            total=pick(["Total TTC", "Net à payer", "Montant TTC"]),
            due=pick(["Échéance :", "À régler avant le", "Date d'échéance :"]),
            terms=f"Paiement à {inv['terms']} jours.",
            qty="Qté",
            desc="Désignation",
            cust="Client n°",
            thanks="Merci de votre confiance.",
            to="Facturé à :",
            deliv="Date de livraison :",
        ),
        "nl": dict(
            inv="Factuur",
            no=pick(["Factuurnummer:", "Factuurnr.", "Factuur nr."]),
            date=pick(["Factuurdatum:", "Datum:"]),
            sub="Subtotaal",
            net="Subtotaal",
            total=pick(["Totaal", "Totaal incl. BTW", "Te betalen"]),
            due=pick(["Vervaldatum:", "Uiterlijk te betalen op", "Betalen vóór"]),
            terms=f"Betaling binnen {inv['terms']} dagen.",
            qty="Aantal",
            desc="Omschrijving",
            cust="Klantnummer",
            thanks="Bedankt voor uw opdracht!",
            to="Factuuradres:",
            deliv="Leverdatum:",
        ),
    }[lang]
    date_text = fmt_date(inv["date"], country, lang)
    lines = [
        inv["vendor"],
        f"{inv['address']} · {inv['city']}",
        f"{inv['phone']} · {inv['email']}" if maybe(0.6) else inv["email"],
        "",
        words["to"],
        inv["customer"],
        "",
        words["inv"].upper() if maybe(0.5) else words["inv"],
        "",
    ]
    meta = [f"{words['no']} {inv['number']}", f"{words['date']} {date_text}"]
    if inv["customer_no"]:
        meta.append(f"{words['cust']} {inv['customer_no']}")
    if maybe(0.35):
        meta.append(
            f"{words['deliv']} {fmt_date(inv['date'] - timedelta(days=rng.randint(1, 15)), country, lang)}"
        )
    rng.shuffle(meta)
    lines += [*meta, "", f"{words['qty']:<8}{words['desc']:<40}"]
    for desc, qty, price in inv["rows"]:
        lines.append(f"{qty:<8}{desc:<40}{fmt_number(qty * price, loc):>12}")
    lines += [
        "",
        f"{words['sub']}: {fmt_money(inv['sub'], loc)}",
        f"{tax_label(inv)}: {fmt_money(inv['tax'], loc)}",
        f"{words['total']}: {fmt_money(inv['total'], loc)}",
        "",
    ]
    if show_due:
        lines.append(f"{words['due']} {fmt_date(inv['due'], country, lang)}")
    else:
        lines.append(words["terms"])
    if maybe(0.7):
        bic = {"DE": "KSTBDEFF", "FR": "KSTBFRPP", "NL": "KSTBNL2A", "CH": "KSTBCHZZ"}[country]
        lines.append(f"IBAN: {iban(country)}  BIC: {bic}")
    if maybe(0.4):
        lines.append(words["thanks"])
    return "\n".join(lines), gold(inv, due=show_due)


def layout_saas(inv: dict) -> tuple[str, dict]:
    country = inv["country"]
    loc = inv["loc"]
    name = pick(SAAS)
    legal = f"{name} {dict(US='Inc.', CA='Inc.', UK='Ltd', DE='GmbH', CH='AG', NL='B.V.', SE='AB', AU='Pty Ltd').get(country, 'Ltd')}"
    price = round(
        rng.choice([9, 12, 19, 29, 49, 79, 99, 199, 249])
        * (150 if loc["currency"] == "JPY" else (10 if loc["currency"] in ("SEK", "NOK", "DKK") else 1)),
        2,
    )
    seats = rng.choice([1, 1, 1, 3, 5, 10])
    sub = round(price * seats, 0 if loc["currency"] == "JPY" else 2)
    rate = pick(loc["rates"])
    tax = round(sub * rate / 100, 0 if loc["currency"] == "JPY" else 2)
    total = round(sub + tax, 0 if loc["currency"] == "JPY" else 2)
    hexpart = ""
    while sum(c.isalpha() for c in hexpart) < 2:  # a digits-only id would read as a phone number
        hexpart = f"{rng.randint(0x10000000, 0xFFFFFFFF):08X}"
    inv_no = pick(
        [
            f"{name[:4].upper()}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            f"{hexpart}-{rng.randint(1, 9999):04d}",
        ]
    )
    receipt_no = f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
    both = maybe(0.6)
    d = inv["date"]
    period_end = d + timedelta(days=30 if maybe(0.7) else 365)
    lines = [
        f"Your receipt from {name}" if maybe(0.5) else f"{name}: payment received",
        "",
        f"{'Receipt' if maybe(0.5) else 'Payment'} #{receipt_no}" if both else f"Receipt #{inv_no}",
    ]
    if both:
        lines.append(f"Invoice number: {inv_no}")
    lines += [
        f"{pick(['Date paid', 'Payment date', 'Paid on'])}: {fmt_date(d, country)}",
        "",
        f"{pick(['Pro', 'Team', 'Business', 'Growth'])} plan x {seats}    {fmt_money(sub, loc)}",
        f"{fmt_date(d, country)} \u2013 {fmt_date(period_end, country)}",
    ]
    if rate:
        lines.append(f"{loc['tax']} ({rate:g}%)    {fmt_money(tax, loc)}")
    lines += [
        f"{pick(['Amount paid', 'Total', 'Total charged'])}    {fmt_money(total, loc)}",
        f"{pick(['Visa', 'Mastercard', 'Amex'])} ending in {rng.randint(1000, 9999)}",
        "",
        f"Questions? Contact us at support@{name.lower()}.example.com",
        f"{legal}, {inv['address']}, {inv['city']}",
    ]
    g = {
        "vendor": legal,
        "invoice_number": inv_no,
        "invoice_date": d.isoformat(),
        "total_amount": total,
        "currency": loc["currency"],
        "due_date": None,
    }
    return "\n".join(lines), g


def layout_freelancer(inv: dict) -> tuple[str, dict]:
    country = (
        inv["country"]
        if inv["country"] in ("US", "UK", "CA", "AU", "NL", "DE", "SE")
        else pick(["UK", "US", "AU"])
    )
    loc = LOCALES[country]
    first = pick(["Harriet", "Milo", "Sanne", "Jasper", "Noor", "Elif", "Callum", "Rosa", "Tariq", "Ivy"])
    last = pick(["Cole", "Ashby", "Verhoeven", "Lind", "Okoro", "Demir", "Reid", "Blom", "Farouk", "Marsh"])
    trade = pick(
        ["Photography", "Design", "Copywriting", "Illustration", "Translation", "Consulting", "Video"]
    )
    vendor = f"{first} {last} {trade}"
    hours = rng.randint(3, 40)
    rate_h = rng.choice([35, 40, 45, 55, 60, 75, 90]) * (10 if loc["currency"] in ("SEK",) else 1)
    total = float(hours * rate_h)
    num = pick(
        [
            f"{rng.randint(10, 250)}",
            f"{rng.randint(2023, 2025)}-{rng.randint(1, 60):03d}",
            f"{first[0]}{last[0]}-{rng.randint(100, 999)}",
        ]
    )
    shown = f"#{num}" if num.isdigit() or maybe(0.3) else num  # "#" is a label, not part of the number
    d = inv["date"]
    show_due = maybe(0.5)
    due = d + timedelta(days=pick([14, 30]))
    client = pick(PEOPLE).split()[0]
    text = pick(
        [
            f"Hi {client},\n\nHere's my invoice {shown} for {pick(['the March shoot', 'the brochure work', 'last month', 'the website copy', 'the project so far'])}: {hours} hours at {fmt_money(rate_h, loc, 'symbol')} = {fmt_money(total, loc, 'symbol')}. Invoice date {fmt_date(d, country)}.",
            f"Hello {client}!\n\nInvoice {shown}, {fmt_date(d, country)}\n{hours} h x {fmt_number(rate_h, loc)} = {fmt_money(total, loc)}\nNo VAT charged (small business).",
            f"Dear {client},\n\nPlease find below invoice {shown}, dated {fmt_date(d, country)}.\n\nServices: {hours} hours\nRate: {fmt_money(rate_h, loc)}/h\nTotal: {fmt_money(total, loc)}",
        ]
    )
    if show_due:
        text += "\n" + pick(
            [
                f"Due by {fmt_date(due, country)}, thanks!",
                f"Payment due {fmt_date(due, country)}.",
                f"Could you pay by {fmt_date(due, country)}?",
            ]
        )
    else:
        text += "\n" + pick(
            [
                "Payment within 14 days would be lovely.",
                "No rush, whenever accounts get to it.",
                "Thanks so much!",
            ]
        )
    if maybe(0.6):
        text += "\n" + pick(
            [
                f"Bank: {iban('UK' if country == 'UK' else 'NL')}",
                f"PayPal: {first.lower()}@{last.lower()}.example.net",
                "Sort code and account number as before.",
            ]
        )
    text += f"\n\nBest,\n{first}\n{vendor}"
    if maybe(0.5):
        text += f"\n{phone(country)}"
    g = {
        "vendor": vendor,
        "invoice_number": num,
        "invoice_date": d.isoformat(),
        "total_amount": total,
        "currency": loc["currency"],
        "due_date": due.isoformat() if show_due else None,
    }
    return text, g


def layout_utility(inv: dict) -> tuple[str, dict]:
    country = inv["country"] if inv["country"] in ("US", "UK", "CA", "AU") else pick(["UK", "US"])
    loc = LOCALES[country]
    kind = pick(["Energy", "Water", "Broadband", "Mobile", "Telecom"])
    vendor = f"{pick(NICE_WORDS)} {kind} {pick(SUFFIX[country])}".strip()
    prev = round(rng.uniform(20, 180), 2)
    charges = round(rng.uniform(25, 240), 2)
    rate = (
        5
        if country == "UK" and kind in ("Energy",)
        else (pick(LOCALES[country]["rates"]) if country != "US" else 0)
    )
    tax = round(charges * rate / 100, 2)
    total = round(charges + tax, 2)
    d = inv["date"]
    due = d + timedelta(days=pick([14, 21, 28]))
    number = pick(
        [
            f"{rng.randint(100000000, 999999999)}",
            f"B{rng.randint(1000000, 9999999)}",
            f"BL-{rng.randint(1000, 9999)}-{rng.randint(100, 999)}",
        ]
    )
    paid_prev = maybe(0.6)
    lines = [
        vendor,
        f"{pick(['Your bill', 'Statement', 'Your ' + kind.lower() + ' bill'])}",
        "",
        f"Account number: {rng.randint(10000000, 99999999)}",
        f"{pick(['Bill number', 'Bill no.', 'Invoice number'])}: {number}",
        f"{pick(['Bill date', 'Date of bill', 'Issue date'])}: {fmt_date(d, country)}",
        f"Billing period: {fmt_date(d - timedelta(days=31), country)} to {fmt_date(d - timedelta(days=1), country)}",
        "",
        f"Previous balance: {fmt_money(prev, loc)}",
        f"Payment received, thank you: -{fmt_money(prev, loc)}"
        if paid_prev
        else f"Payment received: {fmt_money(0, loc)}",
        f"This period's charges: {fmt_money(charges, loc)}",
    ]
    if rate:
        lines.append(f"{loc['tax']} at {rate:g}%: {fmt_money(tax, loc)}")
    lines.append(
        f"{pick(['Total of this bill', 'Total charges this bill', 'New charges total'])}: {fmt_money(total, loc)}"
    )
    balance = total if paid_prev else round(total + prev, 2)
    lines += [
        f"Amount due: {fmt_money(balance, loc)}",
        f"{pick(['Please pay by', 'Due date:', 'Payment due by'])} {fmt_date(due, country)}",
        "",
        pick(
            [
                "We'll collect this by Direct Debit on or after the due date.",
                "Pay online or by phone.",
                "Questions? Call us free on " + phone(country),
            ]
        ),
    ]
    g = {
        "vendor": vendor,
        "invoice_number": number,
        "invoice_date": d.isoformat(),
        "total_amount": total,
        "currency": loc["currency"],
        "due_date": due.isoformat(),
    }
    return "\n".join(lines), g


OCR_SWAPS = [("l", "1"), ("O", "0"), ("rn", "m"), ("e", "c"), ("S", "5")]


def layout_ocr(inv: dict) -> tuple[str, dict]:
    """A classic invoice as a bad scan: broken lines, stray characters, misread letters in prose
    words (never in the numbers, dates or names to extract)."""
    text, g = layout_classic(inv)
    protected = {g["vendor"], g["invoice_number"]}
    out = []
    for line in text.split("\n"):
        if any(ch.isdigit() for ch in line) or any(p and p.lower() in line.lower() for p in protected):
            out.append(re.sub(r" {2,}", lambda m: " " * rng.randint(1, 6), line))
            continue
        words = []
        for w in line.split(" "):
            if len(w) > 4 and w.isalpha() and maybe(0.25):
                a, b = pick(OCR_SWAPS)
                w = w.replace(a, b, 1)
            words.append(w)
        out.append(" ".join(words))
    joined = "\n".join(out)
    if maybe(0.5):
        joined = joined.replace("\n\n", pick(["\n", "\n \n", "\n.\n"]))
    return pick(["[scanned document]\n", "OCR text:\n", "", "Page 1 of 1\n"]) + joined, g


LAYOUTS = [
    (layout_classic, 26),
    (layout_forward, 14),
    (layout_receipt, 15),
    (layout_european, 14),
    (layout_saas, 9),
    (layout_freelancer, 9),
    (layout_utility, 6),
    (layout_ocr, 7),
]


def normalise(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def main() -> None:
    rows, seen = [], set()
    while len(rows) < COUNT:
        layout = rng.choices([f for f, _ in LAYOUTS], weights=[w for _, w in LAYOUTS])[0]
        new_document()
        inv = draw_invoice()
        while layout is layout_european and inv["country"] not in ("DE", "FR", "NL", "CH"):
            inv = draw_invoice()
        text, g = layout(inv)
        if normalise(text) in seen:
            continue
        seen.add(normalise(text))
        rows.append({"document": text, "invoice": g})
    with OUT.open("w", encoding="utf-8") as f:
        for i, row in enumerate(rows, 1):
            f.write(json.dumps({"id": f"inv{i:03d}", **row}, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} documents to {OUT}")


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    main()
