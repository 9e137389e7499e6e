"""Generate data/tickets.jsonl: support emails to Kestrel Labelworks (fictional) with their triage.

Deterministic (fixed seed) and standard library only:

    python examples/ticket-triage/make_data.py

Every email is composed from hand-written pieces (openings, problem descriptions per scenario,
details, asides, sign-offs, quoted replies), then roughed up (typos, lower case, shouting). The
facts a scenario draws (plan, how long ago, whether an order number is given, what the customer
asks for) are written into the email, and the labels are computed from those facts by
``triage()``, which follows the rules in kb/ and nothing else. All names, companies, addresses,
numbers and products are invented.
"""

# ruff: noqa: E501  (the hand-written email pieces are long lines of prose)
from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 4117
OUT = Path(__file__).parent / "data" / "tickets.jsonl"

rng = random.Random(SEED)


def pick(items):
    return rng.choice(items)


def maybe(p: float) -> bool:
    return rng.random() < p


# --- people, companies, numbers ---------------------------------------------------------------

FIRST = [
    "Maren",
    "Tobias",
    "Aisha",
    "Declan",
    "Ines",
    "Kofi",
    "Lucia",
    "Rafael",
    "Yuki",
    "Priyanka",
    "Oskar",
    "Hannah",
    "Mateo",
    "Saoirse",
    "Dmitri",
    "Fatima",
    "Jonas",
    "Leilani",
    "Bartosz",
    "Chloe",
    "Emeka",
    "Greta",
    "Hamid",
    "Ingrid",
    "Joao",
    "Keiko",
    "Lars",
    "Mariam",
    "Nils",
    "Olu",
    "Paloma",
    "Quentin",
    "Rosa",
    "Stellan",
    "Tamsin",
    "Umar",
    "Vera",
    "Wendell",
    "Ximena",
    "Zofia",
    "Bea",
    "Colm",
    "Delphine",
    "Eitan",
    "Gwen",
    "Henrik",
    "Imogen",
    "Juno",
    "Kasper",
    "Linnea",
    "Marcus",
    "Noor",
    "Orla",
    "Pieter",
    "Ravi",
    "Sunniva",
    "Theo",
    "Ulla",
    "Viktor",
]
LAST = [
    "Lindqvist",
    "Okafor",
    "Brennan",
    "Moreau",
    "Haddad",
    "Castellano",
    "Nakamura",
    "Oyelaran",
    "Fitzgerald",
    "Kowalczyk",
    "Thorsen",
    "Abernethy",
    "Delacroix",
    "Varga",
    "Mbeki",
    "Quintero",
    "Sorensen",
    "Achterberg",
    "Pellegrini",
    "Whitlock",
    "Tanaka",
    "Ferreira",
    "Dunmore",
    "Ivanova",
    "Ekwueme",
    "Halloran",
    "Marchetti",
    "Novak",
    "Rasmussen",
    "Szabo",
    "Umarov",
    "Vasquez",
    "Winterbourne",
    "Yilmaz",
    "Zeller",
    "Blackwood",
    "Carrow",
    "Drummond",
    "Esposito",
    "Garnier",
]
SHOPS = [
    "Bramble & Wick Candles",
    "Harbourside Pet Supplies",
    "Tinker Street Games",
    "Okafor Spice Co.",
    "Little Fern Bakery",
    "Northgate Auto Parts",
    "Saltmarsh Soap Works",
    "Copperleaf Tea",
    "Fjordline Outdoor",
    "Pinecrest Pharmacy",
    "Marigold Print Studio",
    "Otter Creek Ceramics",
    "Velvet Moth Vintage",
    "Quarry Lane Books",
    "Bluefinch Logistics",
    "Driftwood Surf Shop",
    "Emberly Coffee Roasters",
    "Greenhollow Farm Shop",
    "Ironbark Tools",
    "Juniper & Sage Apothecary",
    "Kettle Hill Honey",
    "Lantern Row Crafts",
    "Moonrise Yarns",
    "Nettlefield Wholesale",
    "Oakhurst Vet Clinic",
    "Puddle Jump Kids",
    "Riverbend Electronics",
    "Starling Cosmetics",
    "Thistle Warehouse Ltd",
    "Wren & Ivy Florist",
    "Cobalt Cycle Works",
    "Hollowpine Records",
]
CITIES = [
    "Leeds",
    "Porto",
    "Tucson",
    "Ghent",
    "Duluth",
    "Aarhus",
    "Bristol",
    "Lyon",
    "Boise",
    "Galway",
    "Graz",
    "Savannah",
    "Tampere",
    "Utrecht",
    "Spokane",
    "Cork",
]
AGENTS = ["Priya", "Tomasz", "Henrietta", "Sam", "Lukas", "Ama", "Rowan", "Beatriz"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MONTHS = [
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
NUMWORD = {
    2: "two",
    3: "three",
    4: "four",
    5: "five",
    6: "six",
    7: "seven",
    8: "eight",
    9: "nine",
    10: "ten",
    11: "eleven",
    12: "twelve",
}
PLATFORMS = ["Shopvine", "MarketNest"]


def person() -> tuple[str, str]:
    return pick(FIRST), pick(LAST)


def email_of(first: str, last: str) -> str:
    domain = pick(["example.com", "example.org", "example.net", "mail.example.com", "shop.example.com"])
    local = pick(
        [f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}", f"{last}.{first[0]}"]
    )
    return f"{local.lower()}@{domain}"


def phone() -> str:
    kind = rng.randint(0, 3)
    if kind == 0:
        return f"+1 {pick(['202', '312', '415', '503', '617'])} 555 01{rng.randint(10, 99)}"
    if kind == 1:
        return f"({pick(['206', '404', '512', '718'])}) 555-01{rng.randint(10, 99)}"
    if kind == 2:
        return f"07700 900{rng.randint(100, 999)}"
    return f"+44 7700 900{rng.randint(100, 999)}"


def order_no() -> str:
    return f"KL-{rng.randint(100000, 999999)}"


def tracking_no() -> str:
    return pick(["PW", "SP"]) + str(rng.randint(10**9, 10**10 - 1))


def invoice_no() -> str:
    return f"INV-{rng.randint(20000, 89999)}"


def card_number() -> str:
    """A random 16-digit number that passes the Luhn check (customers do paste these)."""
    digits = [4] + [rng.randint(0, 9) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    return " ".join(text[i : i + 4] for i in range(0, 16, 4))


def iban() -> str:
    """A random UK IBAN with valid check digits (ISO 13616 mod 97)."""
    bban = "KSTB" + "".join(str(rng.randint(0, 9)) for _ in range(14))
    numeric = "".join(str(int(c, 36)) for c in bban + "GB00")
    check = 98 - int(numeric) % 97
    text = f"GB{check:02d}{bban}"
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def ip_address() -> str:
    return pick(["203.0.113.", "198.51.100.", "192.0.2."]) + str(rng.randint(2, 254))


def money(usd: float) -> str:
    cur = rng.choices(["$", "£", "€", "USD"], weights=[6, 2, 2, 1])[0]
    value = usd if cur in ("$", "USD") else round(usd * (0.82 if cur == "£" else 0.93))
    text = f"{value:.2f}" if maybe(0.6) else f"{value:.0f}"
    if cur == "USD":
        return f"{text} USD"
    if cur == "€" and maybe(0.5):
        return f"{text.replace('.', ',')} €"
    return f"{cur}{text}"


PRINTERS = [("K2", "Kestrel K2", 229), ("K4", "K4 Wi-Fi", 349), ("Mini", "Kestrel Mini", 119)]
ACCESSORIES = [("cutter module", 59), ("battery base", 79), ("XL roll holder", 29), ("power adapter", 25)]


def printer_name() -> str:
    short, long_, _ = pick(PRINTERS)
    return pick([short, long_, f"{short} printer", f"Kestrel {short}" if short != "K4" else "K4"])


def num(n: int) -> str:
    return NUMWORD[n] if n in NUMWORD and maybe(0.5) else str(n)


# --- elapsed-time phrases, each safely on one side of a policy line ------------------------------


def within_45_days() -> str:
    return pick(
        [
            "last week",
            f"{rng.randint(3, 40)} days ago",
            f"{num(rng.randint(2, 6))} weeks ago",
            "about a month ago",
            "a couple of weeks ago",
            "ten days ago",
            f"on {pick(WEEKDAYS)}",
            "just over a month ago",
        ]
    )


def beyond_45_days() -> str:
    return pick(
        [
            "two months ago",
            f"{rng.randint(8, 20)} weeks ago",
            f"{num(rng.randint(3, 11))} months ago",
            "about three months ago",
            "over two months ago",
            f"{rng.randint(60, 200)} days ago",
        ]
    )


def within_14_months() -> str:
    return pick(
        [
            f"{num(rng.randint(2, 13))} months ago",
            "about a year ago",
            "a bit over a year ago",
            "eleven months ago",
            "nine months ago",
            "13 months ago",
            f"{rng.randint(3, 12)} weeks ago",
            "not even a year ago",
        ]
    )


def beyond_14_months() -> str:
    return pick(
        [
            f"{rng.randint(15, 34)} months ago",
            "about two years ago",
            "a year and a half ago",
            "almost three years ago",
            "over two years ago",
            "nearly 2 years ago",
        ]
    )


def age_within_14_months() -> str:
    return pick(
        [
            f"{num(rng.randint(2, 13))} months",
            "about a year",
            "eleven months",
            "a bit over a year",
            f"{rng.randint(3, 12)} weeks",
            "not even a year",
            "barely a year",
        ]
    )


def age_beyond_14_months() -> str:
    return pick(
        [
            f"{rng.randint(15, 34)} months",
            "about two years",
            "a year and a half",
            "almost three years",
            "over two years",
            "nearly 2 years",
            "more than three years",
        ]
    )


def within_6_months() -> str:
    return pick(
        [
            f"{num(rng.randint(2, 5))} months ago",
            f"{rng.randint(2, 18)} weeks ago",
            "a few weeks ago",
            "last month",
        ]
    )


def beyond_6_months() -> str:
    return pick(
        [
            f"{num(rng.randint(7, 13))} months ago",
            "about a year ago",
            "ten months ago",
            "last year, around eight months ago",
        ]
    )


def short_wait() -> str:
    return pick(
        [
            f"{num(rng.randint(2, 8))} days ago",
            f"on {pick(WEEKDAYS)}",
            "a week ago",
            "four days ago",
            "the day before yesterday",
            "last weekend",
        ]
    )


def long_wait() -> str:
    return pick(
        [
            f"{rng.randint(15, 35)} days ago",
            "three weeks ago",
            "more than two weeks ago",
            "almost a month ago",
            f"{rng.randint(11, 20)} working days ago",
            "over a month ago",
        ]
    )


def recent_delivery() -> str:
    return pick(
        [
            "today",
            "yesterday",
            "this morning",
            f"on {pick(WEEKDAYS)}",
            f"{num(rng.randint(2, 10))} days ago",
            "last week",
        ]
    )


def old_delivery() -> str:
    return pick(
        [
            f"{num(rng.randint(3, 8))} weeks ago",
            "about a month ago",
            "over a month ago",
            f"{rng.randint(20, 60)} days ago",
        ]
    )


def within_60_days() -> str:
    return pick(
        [
            f"{rng.randint(2, 55)} days ago",
            "last week",
            "two weeks ago",
            "about a month ago",
            "yesterday",
            f"on {pick(WEEKDAYS)}",
            "five weeks ago",
        ]
    )


def beyond_60_days() -> str:
    return pick(
        [
            f"{num(rng.randint(3, 10))} months ago",
            f"{rng.randint(70, 200)} days ago",
            "about four months ago",
            f"back in {pick(MONTHS)}, more than two months ago",
        ]
    )


# --- the triage rules (kb/) -----------------------------------------------------------------------

ORDER_ACTIONS = {"refund_per_policy", "replacement_under_warranty", "reship_order"}
BASE_PRIORITY = {
    "refund_per_policy": "normal",
    "replacement_under_warranty": "normal",
    "reship_order": "normal",
    "ask_for_order_number": "normal",
    "send_password_reset": "normal",
    "route_to_engineering": "normal",
    "answer_from_help_center": "low",
    "forward_to_sales": "low",
    "close_no_action": "low",
}
BUMP = {"low": "normal", "normal": "high", "high": "high", "urgent": "urgent"}


def triage(
    category: str,
    action: str,
    tier: str,
    *,
    needs_order: bool = False,
    has_order: bool = False,
    priority: str | None = None,
    outage: bool = False,
) -> dict:
    """Labels from the facts, exactly as kb/ states the rules."""
    if action in ORDER_ACTIONS and needs_order and not has_order and tier != "enterprise":
        action = "ask_for_order_number"
    if priority is None:
        if outage:
            priority = {"enterprise": "urgent", "pro": "high", "free": "normal"}[tier]
        elif action == "close_no_action":
            priority = "low"
        else:
            priority = BASE_PRIORITY[action]
            if tier == "enterprise":
                priority = BUMP[priority]
    return {"category": category, "priority": priority, "next_step": action}


def tier_of(weights=(45, 40, 15)) -> str:
    return rng.choices(["free", "pro", "enterprise"], weights=weights)[0]


# --- scenarios: each returns (subjects, core text, triage facts) --------------------------------
# A core is the customer's description of the main issue, written in several voices. The facts
# are drawn first and written into the text, so the labels can be computed from them.


def order_sentence(o: str) -> str:
    digits = o[3:]
    return pick(
        [
            f"Order number: {o}.",
            f"My order is {o}.",
            f"Order #{o}",
            f"order no. {digits}",
            f"Ref: {o}",
            f"It was order {o}.",
            f"The order number is {o}.",
            f"({o})",
            f"Order {digits}, if that helps.",
            f"order #{o.replace('-', '')}",
        ]
    )


def no_order_sentence() -> str:
    return pick(
        [
            "I can't find the order confirmation anywhere, sorry.",
            "I don't have the order number to hand.",
            "I paid with PayPal if that helps you find it.",
            "Ordered through your website with my work email.",
            "I deleted the confirmation email by mistake.",
            "",
            "",
            "",
        ]
    )


def attach_order(core: str, subjects: list[str], o: str | None) -> tuple[str, list[str]]:
    """Put the order number (when there is one) in the body or the subject."""
    if o is None:
        extra = no_order_sentence()
        return (core + (" " + extra if extra else "")), subjects
    if maybe(0.3):
        return core, [f"{s} - {o}" if maybe(0.5) else f"Order {o}: {s.lower()}" for s in subjects]
    sentence = order_sentence(o)
    return (f"{sentence} {core}" if maybe(0.3) else f"{core} {sentence}"), subjects


def sc_duplicate_charge(tier: str):
    amt_sub = money(
        rng.choice([19, 190]) if tier != "enterprise" else rng.choice([1140, 2280, 3420, 4560, 9120])
    )
    amt_hw = money(rng.choice([229, 349, 119, 14.90 * 6, 59, 458]))
    day = pick(
        [
            f"on the {rng.randint(2, 28)}th",
            f"on {pick(WEEKDAYS)}",
            "yesterday",
            "today",
            "last week",
            f"on {rng.randint(2, 28)} {pick(MONTHS)}",
        ]
    )
    if tier == "free":
        core = pick(
            [
                f"I ordered a {printer_name()} and my card was charged twice, {amt_hw} both times, {day}.",
                f"Paid for my order once but the bank app shows two payments of {amt_hw} to KESTREL LABELWORKS {day}.",
                f"The checkout page froze, I pressed pay again and now there are two charges of {amt_hw} for one single order.",
                f"Hi, I bought label rolls {day} and was charged two times ({amt_hw} + {amt_hw}). Only one parcel is coming.",
                f"you took {amt_hw} from my account twice. one order. please give back the second one",
                f"Good afternoon, on my credit card there are 2 identical transactions of {amt_hw} from your shop {day}. I have made only one purchase.",
            ]
        )
        subjects = [
            "Charged twice",
            "Double payment",
            "duplicate charge on my card",
            "Two payments for one order",
            "Problem with payment",
            "I was billed 2x",
        ]
    else:
        plan = (
            pick(["Pro", "annual Pro", "monthly Pro", "Studio"])
            if tier == "pro"
            else pick(["Enterprise", "workspace", "seat"])
        )
        inv = invoice_no()
        core = pick(
            [
                f"I've just looked at our card statement and the {plan} renewal of {amt_sub} went through twice {day}.",
                f"You charged me TWICE for the {plan} subscription this month. Two identical payments of {amt_sub}, {day}. Fix this please.",
                f"There are two charges from KESTREL*STUDIO for {amt_sub} on my statement, both {day}. We have one account only.",
                f"Double charge!! {amt_sub} x2 for the {plan} plan.",
                f"Hello, I think there is a mistake, my credit card was debited two times for the same invoice {inv} ({amt_sub}). Can you check please?",
                f"Our finance team flagged a duplicate payment: invoice {inv} was paid by card and then collected again automatically {day}.",
                f"Why there is two payment for my subscription? I see {amt_sub} and again {amt_sub} {day}.",
                f"I was billed twice after updating my card: the old card and the new card were both charged {amt_sub} for the same {plan} renewal.",
                f"Just a heads up that your system billed us twice for the same {plan} renewal {day}.",
            ]
        )
        subjects = [
            "Duplicate charge",
            "Charged twice for subscription",
            f"Invoice {inv} paid twice",
            "billing error",
            "Double billing",
            "Two payments taken",
        ]
    if maybe(0.2):
        core += " " + pick(
            [
                f"The card is {card_number()}.",
                f"Card used: {card_number()}",
                f"It was my Visa, {card_number()}, exp 09/27.",
            ]
        )
    action = "forward_to_sales" if tier == "enterprise" else "refund_per_policy"
    return subjects, core, triage("billing", action, tier, priority="high")


def sc_annual_refund(tier: str):
    recent = maybe(0.55)
    when = within_60_days() if recent else beyond_60_days()
    amt = money(190)
    core = pick(
        [
            f"Our annual Pro plan renewed {when} for {amt}. We actually stopped using Studio a while ago and forgot to cancel. Can we get a refund?",
            f"I didn't mean to renew the yearly subscription, it auto-renewed {when}. Please cancel it and refund me.",
            f"We're closing the shop at the end of the month. The annual plan was charged {when}; is a refund possible for the unused part?",
            f"I upgraded to Pro annual {when} but the team decided to go with a spreadsheet and the old printer software instead. I'd like my money back for the months we won't use.",
            f"renewed {when}, didn't want it. refund pls",
            f"Good day. The yearly subscription was renewed {when} without reminder for me. I do not need it more because we stop the online selling. Please return the money.",
            f"Could you refund the annual renewal from {when}? My business partner already pays for a workspace and we only need one.",
            f"Hello, I paid {amt} for a year of Pro {when}. Honestly the Free plan is enough for us. Is it possible to get a partial refund and go back to Free?",
        ]
    )
    subjects = [
        "Refund annual plan",
        "Refund request",
        "Cancel and refund subscription",
        "Annual renewal",
        "Didn't want to renew",
        "subscription refund?",
    ]
    action = "refund_per_policy" if recent else "answer_from_help_center"
    if tier == "enterprise":
        action = "forward_to_sales"
    return subjects, core, triage("billing", action, tier)


def sc_monthly_refund(tier: str):
    amt = money(19)
    when = pick(["today", "yesterday", "this morning", f"on {pick(WEEKDAYS)}", "a few days ago"])
    core = pick(
        [
            f"I'm on the monthly Pro plan and got charged {amt} {when}. I meant to cancel before that. Can I have this month refunded?",
            "Please refund my last monthly payment, I haven't logged in for weeks.",
            f"Monthly plan charged again {when}. I don't need it anymore, refund and cancel please.",
            f"I forgot to cancel and the {amt} for this month went out {when}. I won't use it at all this month, could you reverse it?",
            f"Hi, we only needed Pro for the Christmas rush. It charged {amt} again {when}. Is it possible to get that back?",
            "can i get a refund for this month? didnt use the app at all",
            f"My trial converted to a paid monthly subscription {when} ({amt}). I never wanted to keep it. Refund?",
        ]
    )
    subjects = [
        "Refund monthly payment",
        "Refund",
        "charged for another month",
        "Please refund",
        "Monthly subscription",
    ]
    return subjects, core, triage("billing", "answer_from_help_center", tier)


def sc_charged_after_cancel(tier: str):
    amt = money(rng.choice([19, 190]))
    day = pick(
        [
            f"on {rng.randint(2, 27)} {pick(MONTHS)}",
            "last month",
            f"on {pick(WEEKDAYS)} last week",
            "weeks ago",
        ]
    )
    core = pick(
        [
            f"I cancelled my Pro subscription {day} (I have the confirmation email) and today you charged me {amt} anyway.",
            f"We downgraded to Free {day} but the card was still charged {amt} for Pro this month.",
            f"Cancelled {day}. Charged {amt} today. Explain?",
            f"Hello, I ended the subscription {day} in the settings page, it says 'Your plan ends on renewal'. But the renewal was charged, {amt}. Please give the money back.",
            f"I switched our workspace to the Free plan {day} and I have a screenshot of it. Now there's a {amt} Pro charge. That shouldn't happen.",
            f"You keep billing me after I cancelled {day}. {amt} taken again. This is not ok.",
        ]
    )
    subjects = [
        "Charged after cancelling",
        "I cancelled!",
        "Charged after cancellation",
        "Why was I charged?",
        "Still billed after downgrade",
    ]
    action = "forward_to_sales" if tier == "enterprise" else "refund_per_policy"
    return subjects, core, triage("billing", action, tier)


def sc_billing_admin(tier: str):
    inv = invoice_no()
    core = pick(
        [
            "Could you send me a VAT invoice for my last order? I need our company's VAT number on it.",
            "How do I change the credit card on file? The old one expired last month.",
            f"Need a copy of invoice {inv} for our accountant please.",
            "My payment failed this morning but the card works everywhere else. What should I do?",
            "Where do I download receipts for the subscription? I can't find them in settings.",
            "Can the invoices be addressed to our company name instead of my personal name?",
            f"Is it possible to pay by bank transfer instead of card? Our account is {iban()}.",
            "Is it possible to pay by bank transfer instead of card?",
            "Our billing contact should be the accounts team, not me. How can I change where invoices go?",
            f"The invoice shows our old address, we moved to {pick(CITIES)} in the summer. Can it be updated for future invoices?",
            "Do your prices include sales tax or is that added at checkout?",
            "I'd like to switch from monthly to yearly billing. Do I lose anything if I switch mid-month?",
            "Our accountant is asking for all invoices from last year in one PDF. Is that possible?",
            "We are VAT registered in Belgium, how do I add our VAT ID so you stop charging VAT?",
            "The card payment was declined twice, error says 'authentication required'. I approved it in my bank app, still declined.",
            "Hi, what currency will I be billed in? I'm in Ireland but the page shows dollars.",
            "Can I get receipts sent to two email addresses?",
            "The invoice PDF won't open, it says the file is damaged. Could you resend it?",
            "Do you accept PayPal for the subscription?",
            "Where can I see when my next payment is due?",
        ]
    )
    subjects = [
        "Billing question",
        "Question about billing",
        "Invoices",
        "Payment question",
        "Quick billing question",
    ]
    action = "forward_to_sales" if tier == "enterprise" else "answer_from_help_center"
    return subjects, core, triage("billing", action, tier)


def sc_enterprise_contract(tier: str):
    inv, po = invoice_no(), f"PO-{rng.randint(1000, 99999)}"
    core = pick(
        [
            f"We need to add {rng.randint(5, 40)} more seats to our Enterprise workspace before the end of the quarter. What's the process, and will it be pro-rated?",
            f"Our procurement team requires a PO number on every invoice. Can the next invoice reference {po}?",
            f"Our contract renews in {pick(MONTHS)} and we would like to discuss multi-year pricing before then.",
            f"Invoice {inv} charges for {rng.randint(50, 90)} seats but we only have {rng.randint(20, 45)} active users. Can this be corrected?",
            f"We removed a whole team from the workspace in {pick(MONTHS)}. Can we get a credit for those seats?",
            f"Finance asks whether our Enterprise invoice can be split across two cost centres ({pick(CITIES)} and {pick(CITIES)}).",
            "Could you send the W-9 and our signed order form again? Our vendor onboarding needs both.",
        ]
    )
    subjects = ["Enterprise contract", "Billing - Enterprise", "Our Enterprise account", "Contract question"]
    return subjects, core, triage("billing", "forward_to_sales", "enterprise")


def sc_plan_question(tier: str):
    core = pick(
        [
            "What's the difference between Free and Pro? I mainly care about the template limit.",
            "If I switch from monthly to yearly do I lose my templates?",
            "How do I downgrade to the Free plan at the end of this month?",
            "Is there a nonprofit discount on Pro? We're a small animal rescue.",
            "Do I need Pro to use the Shopvine integration or does Free include it?",
            "We are 3 people, do we each need a Pro subscription or is it per workspace?",
            "hi does the free plan have a limit on how many labels i can print",
        ]
    )
    subjects = ["Plans", "Question about plans", "Pricing question", "Subscription question"]
    action = "forward_to_sales" if tier == "enterprise" else "answer_from_help_center"
    return subjects, core, triage("billing", action, tier)


def sc_late_short(tier: str):
    when = short_wait()
    tr = tracking_no()
    core = pick(
        [
            f"I ordered a {printer_name()} {when} and it still hasn't arrived. Tracking hasn't moved since it left your warehouse.",
            f"Where is my order? Placed it {when}.",
            f"Hi, the tracking {tr} says 'label created' and nothing else. I ordered {when}. Is it actually shipped?",
            f"My label rolls were supposed to be here by now, ordered {when}. We're running low.",
            f"Ordered {when} with standard shipping, the tracking page just says in transit. When will it come?",
            f"Good morning, I make order {when} and still not receive. Can you check where it is please?",
            f"Any update on my parcel? It's been stuck in {pick(CITIES)} according to the tracking since {pick(WEEKDAYS)}. Ordered {when}.",
        ]
    )
    subjects = [
        "Where is my order",
        "Order not arrived",
        "Tracking not updating",
        "Delivery?",
        "Late delivery",
        "order status",
        f"Tracking {tr}",
    ]
    o = order_no() if maybe(0.5) else None
    core, subjects = attach_order(core, subjects, o) if o else (core, subjects)
    return subjects, core, triage("orders_shipping", "answer_from_help_center", tier)


def sc_late_long(tier: str):
    when = long_wait()
    tr = tracking_no()
    has = maybe(0.6 if tier != "enterprise" else 0.3)
    show_tracking = maybe(0.4)
    core = pick(
        [
            f"I ordered {when} and the parcel never showed up. The tracking has said 'in transit' for ages.",
            f"Still no sign of my order from {when}. This is ridiculous, I needed the {printer_name()} for a market last weekend.",
            f"Ordered {when}, nothing arrived, tracking page is blank. What's going on?",
            f"Hello, my package is lost I think. I ordered {when} and the courier says they don't have it.",
            f"Our label rolls were ordered {when} and never came. We've had to buy from a local shop in the meantime.",
            f"It has been {when.replace(' ago', '')} since I ordered and I still have nothing. Can you send it again?",
            f"Parcel missing. Ordered {when}. Tracking stuck at the depot in {pick(CITIES)}.",
            f"I was patient but it is now {when.replace(' ago', '')} since my order and no printer. Please do something.",
        ]
    )
    if show_tracking:
        core += " " + pick([f"Tracking number {tr}.", f"The tracking is {tr}.", f"({tr})"])
    subjects = [
        "Order never arrived",
        "Lost parcel",
        "Where is my order?!",
        "Missing delivery",
        "Not delivered",
        "package lost",
    ]
    core, subjects = attach_order(core, subjects, order_no() if has else None)
    return subjects, core, triage("orders_shipping", "reship_order", tier, needs_order=True, has_order=has)


def sc_damaged_recent(tier: str):
    when = recent_delivery()
    has = maybe(0.6 if tier != "enterprise" else 0.3)
    p = printer_name()
    acc = pick(ACCESSORIES)[0]
    core = pick(
        [
            f"The box arrived {when} completely crushed and the {p}'s lid is cracked.",
            f"You sent me 2-inch labels instead of the 4x6 ones I ordered. They came {when}.",
            f"The {acc} was missing from the box. Everything else was there. Delivered {when}.",
            f"Received a K2 {when}, but I ordered the K4 Wi-Fi.",
            f"Parcel came {when} with a hole in the side, and the {p} inside rattles. It won't turn on.",
            f"hi, got my order {when} but only 3 of the 5 label rolls I paid for were inside.",
            f"The delivery man threw the box over our gate {when} and the printer's paper guide is snapped off.",
            f"Unpacked the {p} {when}: the power adapter is for the EU but I'm in the UK and ordered UK.",
            f"Dear team, the printer arrive {when} but the front panel is broken in transport. The box was wet also.",
            f"Wrong colour! I ordered the white {p} and got a grey one {when}.",
        ]
    )
    subjects = ["Order problem", "Problem with my delivery", "Issue with order", "Delivery problem"]
    core, subjects = attach_order(core, subjects, order_no() if has else None)
    return subjects, core, triage("orders_shipping", "reship_order", tier, needs_order=True, has_order=has)


def sc_damaged_late(tier: str):
    when = old_delivery()
    core = pick(
        [
            f"I got my order {when} but only opened it now and the roll holder is broken.",
            f"We received the printers {when} and put them in storage. Today we unpacked one and it was the wrong model.",
            f"The parcel arrived {when}, I just noticed one label roll is missing from the pack of six.",
            f"Hi, my {printer_name()} was delivered {when}. I finally unboxed it and the lid hinge is snapped, probably from shipping.",
            f"Delivery was {when}, been busy, but the box was damaged and I now see the printer has a crack in the case.",
        ]
    )
    subjects = ["problem with delivery", "Order issue", "Problem with my order"]
    o = order_no() if maybe(0.5) else None
    core, subjects = attach_order(core, subjects, o) if o else (core, subjects)
    return subjects, core, triage("orders_shipping", "answer_from_help_center", tier)


def sc_shipping_question(tier: str):
    core = pick(
        [
            "I typed the wrong house number on my order. Can I still change the address?",
            "Can I cancel the order I placed an hour ago? I ordered the wrong printer.",
            "Do you ship to PO boxes? We don't have a street address for deliveries.",
            "How much are the import fees if I order from the EU store to the UK?",
            "Is there express shipping? I need a printer by Friday.",
            "I got two tracking numbers for one order. Is that normal?",
            "Can I pick up my order from your warehouse instead of paying for shipping?",
            "Do you deliver to Switzerland, and will I pay customs?",
            "I'm moving next week, can you hold my order until then or change the address?",
            "The courier left a card, they want me to pay duties of about 40 francs. Do you refund that?",
            "Can you deliver to a parcel locker? I'm never home during the day.",
            "Our warehouse only accepts deliveries before noon. Can you choose a delivery time?",
            "what days do you ship? if I order saturday when does it leave",
            "Can I add label rolls to an order I placed this morning, so they come together?",
            "Do you ship to the Canary Islands?",
            "My order says 'processing'. When does it get dispatched?",
        ]
    )
    subjects = ["Shipping question", "Question about delivery", "Question", "Delivery options"]
    o = order_no() if maybe(0.35) else None
    core, subjects = attach_order(core, subjects, o) if o else (core, subjects)
    return subjects, core, triage("orders_shipping", "answer_from_help_center", tier)


def sc_return_within(tier: str):
    when = within_45_days()
    has = maybe(0.6 if tier != "enterprise" else 0.3)
    p = printer_name()
    if maybe(0.75):
        core = (
            pick(
                [
                    f"I'd like to return the {p}. I bought it {when} and it's too big for our counter.",
                    f"We got a {p} {when} but our courier changed their label format, so we don't need it anymore. How do I send it back for a refund?",
                    f"Changed my mind about the {p}, bought {when}. Can I return it and get my money back?",
                    f"I accidentally ordered the {p} twice {when}. Please refund one of them, I'll send it back.",
                    f"Return request: {p}, purchased {when}. Used it twice, works fine, just not for us.",
                    f"Hello! My husband bought a {p} for my shop {when} as a surprise but I already have one. Could we return it?",
                    f"I want to return the {p} and get refund. I buy it {when}. Is not working with our system, we use other software.",
                    f"Want to send the {p} back. Got it {when}. Refund to the card please.",
                    f"The {p} we bought {when} is louder than we expected for a shop floor. Can we return it for a refund?",
                ]
            )
            .replace("the the ", "the ")
            .replace("a the ", "the ")
        )
    else:
        item = pick(
            ["the " + pick(ACCESSORIES)[0], "two unopened boxes of label rolls", "a sealed 6-pack of rolls"]
        )
        core = pick(
            [
                f"Can I return {item}? Bought {when}, turns out we don't need it.",
                f"I'd like a refund for {item}, delivered {when}. Ordered by mistake.",
                f"Hi, we want to send back {item} from an order {when}. Never used.",
            ]
        )
    subjects = [
        "Return",
        "Return request",
        "Refund for printer",
        "How do I return this?",
        "Return and refund",
        "Send back",
    ]
    core, subjects = attach_order(core, subjects, order_no() if has else None)
    return (
        subjects,
        core,
        triage("returns_warranty", "refund_per_policy", tier, needs_order=True, has_order=has),
    )


def sc_return_late(tier: str):
    when = beyond_45_days()
    p = printer_name()
    core = pick(
        [
            f"Can I still return the {p}? I bought it {when}, it's basically unused.",
            f"We bought a {p} {when} and we're switching to another system. Would you take it back for a refund?",
            f"I'd like to return my {p}. Purchased {when}. We just never got into using it.",
            f"Is it too late to return an unopened {pick(ACCESSORIES)[0]}? It arrived {when}.",
            f"Bought {p} {when}, my business closed. Can I return it, it's like new?",
        ]
    )
    subjects = ["Return", "Too late to return?", "Refund", "Return question"]
    o = order_no() if maybe(0.5) else None
    core, subjects = attach_order(core, subjects, o) if o else (core, subjects)
    return subjects, core, triage("returns_warranty", "answer_from_help_center", tier)


def sc_opened_rolls(tier: str):
    core = pick(
        [
            "I opened a box of 4x6 labels but we switched to a smaller size. Can I return the rolls?",
            "We ordered the wrong label size and already unwrapped two of the rolls before noticing. Can we send them back?",
            "Can I return label rolls that I opened but didn't use? They're the glossy ones and the ink smudges on them with our setup.",
            "Opened the pack, turns out these labels don't fit the Mini. Return possible?",
            "hello i want to return the labels, i opened the plastic but they are all still on the roll",
        ]
    )
    subjects = ["Return labels", "Label rolls return", "Wrong labels", "Return"]
    o = order_no() if maybe(0.5) else None
    core, subjects = attach_order(core, subjects, o) if o else (core, subjects)
    return subjects, core, triage("returns_warranty", "answer_from_help_center", tier)


FAULTS = [
    "won't power on at all, no lights",
    "prints a white line straight through every barcode",
    "makes a grinding noise and the labels jam after two or three",
    "has a stuck red light that doesn't go away after a restart",
    "only prints the top half of each label, the rest is blank",
    "has a lid latch that snapped off on its own when I opened it",
    "has a loose USB port, so the connection keeps dropping",
    "smells hot and switches itself off after a few minutes",
    "prints very faint even at the darkest setting",
    "stopped feeding labels, the motor hums but nothing moves",
    "has a feed button that doesn't do anything anymore",
    "shows error E-41 on every start and won't print",
    "cuts out halfway through a print job and restarts",
]


def sc_fault_within(tier: str):
    when = within_14_months()
    p = printer_name()
    fault = pick(FAULTS)
    recent = maybe(0.25)
    if recent:
        when = pick(["last week", f"{rng.randint(5, 30)} days ago", "two weeks ago", "a month ago"])
    wants_refund = recent and maybe(0.5)
    has = maybe(0.6 if tier != "enterprise" else 0.3)
    core = pick(
        [
            f"Our {p} {fault}. We bought it {when}.",
            f"The {p} I got {when} {fault}. I've tried another cable and another socket.",
            f"Hi, since yesterday my {p} {fault}. It's {age_within_14_months() if not recent else 'only a few weeks'} old.",
            f"Bought {when}. Printer {fault}. Not happy.",
            f"I think my printer is broken. It's a {p}, purchased {when}, and it {fault}. We depend on it for our dispatch every day.",
            f"Dear support, the {p} what we buy {when} {fault}. Please help, we need for shipping our orders.",
            f"We have a problem with a {p} in our packing room: it {fault}. It was delivered {when}.",
        ]
    )
    if wants_refund:
        core += " " + pick(
            [
                "I'd rather just have my money back.",
                "Please refund it, I'll buy a different brand.",
                "I want a refund, not a replacement.",
            ]
        )
    elif maybe(0.4):
        core += " " + pick(
            [
                "Can you send a replacement?",
                "Could you replace it?",
                "What are my options?",
                "Is this covered by the warranty?",
            ]
        )
    subjects = [
        "Printer broken",
        "Faulty printer",
        "Warranty claim",
        f"{p} not working",
        "Printer problem",
        "Defective printer",
        "broken",
    ]
    core, subjects = attach_order(core, subjects, order_no() if has else None)
    action = "refund_per_policy" if wants_refund else "replacement_under_warranty"
    return subjects, core, triage("returns_warranty", action, tier, needs_order=True, has_order=has)


def sc_accessory(tier: str):
    acc = pick(ACCESSORIES)[0]
    covered = maybe(0.5)
    when = within_6_months() if covered else beyond_6_months()
    has = maybe(0.6 if tier != "enterprise" else 0.3)
    problem = {
        "cutter module": pick(
            [
                "doesn't cut all the way through anymore",
                "jams on every second label",
                "clicks but the blade doesn't move",
            ]
        ),
        "battery base": pick(
            [
                "doesn't hold a charge for more than an hour",
                "won't charge at all",
                "gets really hot while charging",
            ]
        ),
        "XL roll holder": pick(
            ["has a cracked spindle and the roll wobbles", "arm broke off where it clips on"]
        ),
        "power adapter": pick(
            ["stopped working, the light on it is off", "makes a buzzing noise and the printer resets"]
        ),
    }[acc]
    core = pick(
        [
            f"The {acc} we bought {when} {problem}.",
            f"My {acc} {problem}. I got it {when}. Is that covered?",
            f"Hi there, {acc} (bought {when}) {problem}. Can you send a new one?",
            f"{acc} {problem}, purchased {when}. What can you do?",
        ]
    )
    subjects = [f"{acc} broken", "Accessory warranty", f"Faulty {acc}", "Warranty question"]
    if covered:
        core, subjects = attach_order(core, subjects, order_no() if has else None)
        return (
            subjects,
            core,
            triage("returns_warranty", "replacement_under_warranty", tier, needs_order=True, has_order=has),
        )
    o = order_no() if maybe(0.5) else None
    core, subjects = attach_order(core, subjects, o) if o else (core, subjects)
    return subjects, core, triage("returns_warranty", "answer_from_help_center", tier)


def sc_fault_not_covered(tier: str):
    p = printer_name()
    if maybe(0.55):
        when = beyond_14_months()
        fault = pick(FAULTS)
        core = pick(
            [
                f"Our {p} {fault}. We've had it for {age_beyond_14_months()} and it's been great until now.",
                f"My {p} {fault}. Bought {when}. Do you repair them?",
                f"The {p} {fault}. It's around {age_beyond_14_months()} old. Can it be fixed or replaced?",
                f"Hello, printer {fault}, bought {when}. I'd like a replacement.",
            ]
        )
    else:
        when = within_14_months()
        core = pick(
            [
                f"I knocked the {p} off the counter and now the lid won't close. Bought it {when}. Is this covered?",
                f"Coffee got spilled into our {p} and now it only blinks orange. It's only {age_within_14_months()} old, so still under warranty right?",
                f"The case of my {p} cracked when it fell off the shelf during a delivery. Only {age_within_14_months()} old. Can you replace it under warranty?",
                f"We used some cheap labels from another brand and the glue is now all over the printhead, it won't print. Printer is from {when}.",
                f"My toddler poured water into the printer. I know, I know. Bought {when}. Anything you can do?",
            ]
        )
    subjects = ["Repair", "Printer broken", "Warranty?", "Can it be repaired?", "Damaged printer"]
    o = order_no() if maybe(0.4) else None
    core, subjects = attach_order(core, subjects, o) if o else (core, subjects)
    return subjects, core, triage("returns_warranty", "answer_from_help_center", tier)


def sc_calibrated_fault(tier: str):
    p = printer_name()
    covered = maybe(0.75)
    when = within_14_months() if covered else beyond_14_months()
    has = maybe(0.6 if tier != "enterprise" else 0.3)
    core = pick(
        [
            f"Labels print half on one label and half on the next. I ran the calibration from your help article three times and did a factory reset. Still the same. The {p} is from {when}.",
            f"Our {p} skips every other label. Calibrated it like the article says, twice, no change. We got it {when}.",
            f"Even after calibration the {p} feeds two labels at a time. Tried new rolls too. Bought {when}.",
            f"Calibration doesn't help: the print is shifted 5mm down on every label. Printer bought {when}.",
        ]
    )
    subjects = ["Printing offset", "Calibration not working", "Skipping labels", f"{p} problem"]
    if covered:
        core, subjects = attach_order(core, subjects, order_no() if has else None)
        return (
            subjects,
            core,
            triage("returns_warranty", "replacement_under_warranty", tier, needs_order=True, has_order=has),
        )
    return subjects, core, triage("returns_warranty", "answer_from_help_center", tier)


def sc_password(tier: str):
    core = pick(
        [
            "I forgot my password and the login page doesn't take my old one anymore.",
            "Locked out after too many tries. Can you unlock my account?",
            "The password reset email never arrives. Checked spam. Nothing.",
            "I can't log in to Studio. It says wrong password but I'm sure it's right.",
            "hi cant login forgot password help",
            "Hello, I am not able to enter in my account, the password is not accepted. Please help me to enter.",
            "We have one shared login for the shop and nobody remembers the password. Please reset it.",
            "I changed my password last week and now can't remember what I changed it to.",
            "After the update the desktop app logged me out and my saved password doesn't work anymore.",
            "The reset link you sent says 'expired' when I click it. Can you send a new one?",
            "Account locked. 'Too many attempts, try again later'. It's been two hours.",
            "How do I reset my password? The 'forgot password' link just reloads the page.",
            "My password manager lost the entry for Kestrel and I can't get in.",
            "I haven't used Studio since last season and have no idea what my password was.",
            "Our new packer needs to log in with the shop account but I forgot the password we set.",
            "Every time I log in it says 'invalid credentials'. Caps lock is off, I promise.",
            "Is there a way to get a new password? The one in my notebook is wrong apparently.",
            "I mistyped my password a few times and now I'm locked out of the account completely.",
            "Password not working on the new laptop, works on nothing actually. Please send me a reset.",
        ]
    )
    if maybe(0.3):
        core += " " + pick(
            [
                "The account is under this email address.",
                "My login is the address I'm writing from.",
                "Same email as this one.",
            ]
        )
    subjects = [
        "Password",
        "Can't log in",
        "Locked out",
        "Reset password",
        "login problem",
        "Forgot password",
        "Account locked",
    ]
    return subjects, core, triage("account_access", "send_password_reset", tier)


def sc_other_address(tier: str):
    first, last = person()
    old = email_of(first, last)
    core = pick(
        [
            f"I'm writing from my personal address because I no longer have access to my work mailbox. Please reset the login for {old} so I can get into our templates.",
            f"Our colleague {first} {last} left the company and we need to get into the workspace she set up under {old}. Can you give me access?",
            f"Can you change the login email on my account to this address? The old one ({old}) was at a domain we let expire.",
            f"I don't have the email I signed up with anymore ({old}). Please send the password reset to this address instead.",
            f"Hi, my ex-business partner registered the account with {old}. I run the shop alone now and need the account. Please move it to me.",
            f"Writing from my gmail as the company email is down. Could you send me a reset link for {old} here?",
        ]
    )
    subjects = ["Account access", "Can't access account", "Access to our account", "Login help"]
    return subjects, core, triage("account_access", "escalate_to_security", tier, priority="high")


def sc_lost_2fa(tier: str):
    core = pick(
        [
            "My phone was stolen and my authenticator app was on it. Now I can't log in because of the 2FA code.",
            "I got a new phone and didn't move the authenticator app. How do I get back into my account?",
            "Lost my backup codes and my phone broke. Two-factor is blocking me.",
            "Two-factor code is always 'invalid'. I factory reset my phone last week and set up the app again but the Kestrel entry is gone.",
            "I can't log in, it asks for the 6 digit code and the phone with the app is at the bottom of a lake (long story).",
            "Hello, I change my mobile and now the application for the codes is empty. I cannot enter my account.",
            "Please disable 2FA on my account, I lost access to the authenticator.",
        ]
    )
    subjects = ["2FA", "Lost phone", "Two-factor problem", "Can't log in - 2FA", "Authenticator lost"]
    return subjects, core, triage("account_access", "escalate_to_security", tier, priority="high")


def sc_compromise(tier: str):
    core = pick(
        [
            f"I got an alert about a login from {pick(['Brazil', 'Vietnam', 'Romania', 'Kenya', 'a country I have never been to'])} on our account. That wasn't any of us.",
            "My password was changed and I didn't do it. I only got in because the reset link still worked.",
            "There's an admin user in our workspace called 'support-team' that none of us created.",
            "One of our developers accidentally pushed our Kestrel API key to a public code repository. It was up for about a day before we noticed.",
            "Someone changed the return address on all our shipping templates to an address we don't know.",
            "We're seeing print jobs in our history that nobody here sent, hundreds of labels overnight.",
            "The login email on my account was changed to an address I don't recognise. I still have a session open on my laptop.",
            "My account was hacked. All templates deleted and a new user invited.",
            "Our API key showed up in a screenshot we posted on a forum. Can you kill it and check if anyone used it?",
            "Got a 'new device signed in' email from you at 3am. Nobody in the office was awake.",
            "Someone deleted all of our templates overnight and the audit log shows a user we don't know.",
            "I think someone has our password. The return address on our labels was edited and it wasn't us.",
            "We shared an API key in a support chat with another company by mistake. Please revoke it.",
        ]
    )
    if maybe(0.3):
        core += " " + pick(
            [
                "Please help quickly.",
                "What do we do now?",
                "Can you lock the account?",
                "I've changed the password already.",
            ]
        )
    subjects = ["Security issue", "Security concern", "security", "Possible breach"]
    return subjects, core, triage("account_access", "escalate_to_security", tier, priority="urgent")


def sc_phishing(tier: str):
    entered = maybe(0.4)
    base = pick(
        [
            "I got an email that looks like it's from Kestrel saying my subscription is suspended and I need to update my card.",
            "We received a text message claiming to be Kestrel Support, with a link to 'verify the account'.",
            "There is an email going around from 'kestrel-billing' with an invoice attachment. It doesn't look like yours.",
            "Got a message saying my printer warranty expires unless I log in through a link. The domain looks off.",
        ]
    )
    tail = (
        pick(
            [
                " Unfortunately I typed my password into the page before I realised.",
                " I clicked it and entered my card details, then it just went blank. I think I've been scammed.",
                " My colleague already put in her login and the 2FA code.",
            ]
        )
        if entered
        else pick(
            [
                " I didn't click anything, just letting you know.",
                " I opened the link but closed it, didn't type anything.",
                " Forwarding it to you so you can warn people.",
                " Is this real?",
            ]
        )
    )
    subjects = [
        "Phishing?",
        "Fake email from Kestrel",
        "Is this email from you?",
        "Scam warning",
        "Suspicious email",
    ]
    return (
        subjects,
        base + tail,
        triage("account_access", "escalate_to_security", tier, priority="urgent" if entered else "high"),
    )


def sc_sso(tier: str):
    everyone = maybe(0.5)
    core = (
        pick(
            [
                "Since this morning nobody on our team can log in through SSO. The page says 'SAML response invalid'.",
                "All of our users get an SSO redirect loop when they try to sign in. We can't print anything.",
                "Our identity provider shows successful logins, but Kestrel rejects every single one of us since the certificate rollover.",
            ]
        )
        if everyone
        else pick(
            [
                "One of our users gets an SSO redirect loop, everyone else can log in fine.",
                "Two new starters can't sign in via SSO, it says 'user not provisioned' even though they are in the right group.",
                "SSO works for everybody except our warehouse manager, who gets 'invalid audience'.",
            ]
        )
    )
    subjects = ["SSO down", "SSO login problem", "SAML error", "Can't sign in with SSO"]
    return subjects, core, triage("account_access", "route_to_engineering", "enterprise", outage=everyone)


def sc_account_admin(tier: str):
    core = pick(
        [
            "Please delete my account and all my data.",
            "How do I change the email I log in with? I have a new work address now.",
            "I'm leaving the company. How do I transfer ownership of the workspace to my colleague?",
            "How do I add a second person to our account?",
            "Can I export all my templates before I close the account?",
            "How do I remove an ex-employee from our workspace?",
            "Can I have two workspaces under one login? One for each shop.",
            "I'd like to change the name on the account, it still shows my maiden name.",
        ]
    )
    subjects = ["Account question", "Question about my account", "Account settings"]
    return subjects, core, triage("account_access", "answer_from_help_center", tier)


def sc_outage(tier: str):
    core = pick(
        [
            "Studio won't load at all, just a spinning wheel, on every computer in the office.",
            "Your API returns 503 for every request since about 9am. Our whole dispatch is stopped.",
            "All print jobs are stuck in the queue, on all three of our printers. Nothing prints.",
            "The desktop app crashes on launch on all our stations since this morning's update.",
            "Studio shows 'Something went wrong' after login. Tried Chrome, Firefox, another laptop. Same.",
            "We can't print ANY labels. The print button does nothing and there's no error.",
            "The web app is down for us. Page is blank. Our couriers arrive at 3 and we have nothing labelled.",
            f"Every call to /v2/labels times out. Nothing has changed on our side, requests come from {ip_address()} as always.",
            "hello, your system is not working since the morning, no one can print, all orders are waiting",
            "None of our printers receive jobs from Studio today. Restarted everything twice.",
            "The login page loads but after that everything is a white screen, for all of us.",
            "Label generation is failing for every order with 'internal error'. Since roughly 11am.",
            "Studio has been unreachable for over an hour. Is there an outage?",
            "Your API is timing out on every call, we can't create a single shipping label.",
        ]
    )
    subjects = ["Outage?", "NOT WORKING", "Everything stopped", "Is something down?", "Nothing works"]
    return subjects, core, triage("technical", "route_to_engineering", tier, outage=True)


def sc_bug(tier: str):
    platform = pick(PLATFORMS)
    core = pick(
        [
            "Barcodes exported from Studio have the wrong check digit, so our scanner rejects them.",
            "The CSV import always drops the first row of data, even when the file has a header row.",
            "Fonts in my template reset to the default every time I save.",
            "Product names with accents (é, ü) print as little boxes.",
            "The Mini app crashes every time I rotate my phone while a label preview is open.",
            "Dates print in US format (MM/DD) although the workspace language is set to English (UK).",
            "Batch printing 200 labels only prints 199. The last one is always missing.",
            f"Our {platform} integration imports every order twice since last week.",
            "The order-shipped webhook fires twice for every label.",
            "When I duplicate a template, the copy loses its logo.",
            "The QR codes come out mirrored on the K4 but fine on the K2.",
            "Zooming in the template editor moves the text boxes by a few pixels every time.",
            f"Addresses from {platform} lose the second address line on the label.",
            "Search in the template library doesn't find templates with numbers in the name.",
            "The 'print preview' shows the label correctly but the actual print is cut off on the right.",
            "The API returns 200 but the label PDF is empty when the recipient name has an apostrophe.",
            f"Since we moved the integration to a new server ({ip_address()}), label PDFs from the API come back in A4 instead of 4x6.",
            "Undo in the editor undoes two steps instead of one.",
            "Weight field rounds 0.45 kg to 0 kg on the shipping label.",
            "Saving a template with a name longer than 40 characters gives a blank error popup.",
            "The label preview shows my logo but the printed label doesn't have it.",
            "When two of us edit the same template, the other person's changes disappear.",
            "Page numbers on batch PDFs restart at 1 after every 50 labels.",
            "The Studio desktop app ignores the 'darkness' setting; the web app respects it.",
            "Return labels generated through the API have the sender and recipient swapped.",
            "The barcode font changes to Arial after I export the template and import it again.",
            "Studio shows the wrong timezone on the print history, everything is one hour off.",
        ]
    )
    if maybe(0.35):
        core += " " + pick(
            [
                "Screenshot attached.",
                "Steps: open the template, change anything, save, reopen.",
                "Happens on Windows and Mac.",
                "It started after the last update.",
                "Can reproduce every time.",
            ]
        )
    subjects = ["Bug", "Bug report", "Something wrong with Studio", "Found a bug", "Possible bug"]
    return subjects, core, triage("technical", "route_to_engineering", tier)


def sc_howto(tier: str):
    p = printer_name()
    platform = pick(PLATFORMS)
    core = pick(
        [
            f"How do I connect the {p} to our Wi-Fi? The app keeps asking for a 'pairing code'.",
            "Is there a driver for Linux? We run our packing station on Ubuntu.",
            "How do I set a default label size so I don't have to pick it every time?",
            "Can I print from my phone directly or do I need a computer?",
            "How do I add our logo to the shipping label template?",
            "Where do I find the API documentation? I want to create labels from our own system.",
            "What's the API rate limit? We print around 2,000 labels a day.",
            "How do I print 3 copies of the same label at once?",
            f"How do I connect Studio to our {platform} store?",
            "Does the Mini work with Bluetooth on an iPad?",
            "Which label size should I use for parcels going with Parcelwise?",
            "How do I install the printer on a Mac with an M2 chip? The installer says unsupported.",
            "Is it possible to print product labels with prices from a spreadsheet?",
            "Can two computers share one K4 over the network?",
            "How do I make the labels print darker?",
            "How do I update the printer firmware?",
            "Can I use my own label rolls from another supplier or only Kestrel ones?",
            "Where do I change the label language from inches to millimetres?",
            "How do I save a template so my colleague can use it too?",
            "Can Studio print a sequential number on each label, like 001, 002, 003?",
            "Is there a way to print return labels in bulk?",
            "How do I reset the K4 to its factory settings?",
        ]
    )
    subjects = ["Question", "How to?", "quick question", "Help please", "How do I...?"]
    return subjects, core, triage("technical", "answer_from_help_center", tier)


def sc_alignment(tier: str):
    p = printer_name()
    core = pick(
        [
            f"The labels print shifted by a few mm on the {p}, the address goes off the edge.",
            "Every other label comes out blank.",
            f"My {p} feeds two labels each time I print one.",
            "Print starts halfway down the label and continues onto the next one.",
            "Since I changed to the new rolls the printing is not centred anymore, it's too low.",
            f"The {p} is wasting labels, it pushes out an empty one after each print.",
        ]
    )
    subjects = ["Printing problem", "Labels print wrong", "Problem with printing", "Label issue"]
    return subjects, core, triage("technical", "answer_from_help_center", tier)


def sc_sales(tier: str):
    n = rng.randint(10, 120)
    core = pick(
        [
            f"We're looking to buy {n} K4 Wi-Fi printers for our warehouses. Can we get a quote?",
            f"Are you looking for resellers in {pick(['Portugal', 'Poland', 'Ireland', 'Austria', 'Chile', 'Sweden'])}? We distribute label supplies and would like to carry your printers.",
            f"We'd like an Enterprise quote for about {rng.randint(30, 200)} users with SSO.",
            f"What's the volume price for {n} printers plus around {rng.randint(200, 900)} label rolls a month?",
            f"Our franchise is rolling out label printers to {n} stores. Who can I talk to about pricing and a contract?",
            "We are a 3PL and want to offer Kestrel printers to our clients. Is there a partner programme?",
            f"Could someone from sales call us? We need {n} Minis for our field team before the season.",
        ]
    )
    subjects = ["Sales enquiry", "Enquiry", "Pricing", "Question for sales"]
    return subjects, core, triage("other", "forward_to_sales", tier)


def sc_small_purchase(tier: str):
    n = rng.randint(2, 9)
    core = pick(
        [
            f"I want to buy {n} more K2s. Is there a discount for buying several?",
            f"Can I order {n} printers and pay by invoice instead of card?",
            f"If we buy {n} Minis at once, do you give any discount?",
            f"We need {n} printers for our new shop. Any chance of a better price?",
        ]
    )
    subjects = ["Discount?", "Buying more printers", "Multiple printers", "Price question"]
    return subjects, core, triage("other", "answer_from_help_center", tier)


def sc_feature(tier: str):
    platform = pick(["Squarespot", "TillTide", "Bookwyrm POS", "Crateful"])
    core = pick(
        [
            "It would be great if Studio had a dark mode. I work late and it's very bright.",
            "Please add QR codes with a logo in the middle. Our competitors' labels have them.",
            f"Any plans to integrate with {platform}? We'd switch all our stores if you did.",
            "Could you allow importing ZPL files? We have hundreds of old templates.",
            "Would love keyboard shortcuts in the template editor.",
            "Can you make the Mini app work offline? Our market stalls have no signal.",
            "I wish I could schedule print jobs for the morning.",
            "Please support right-to-left languages in templates, we sell to customers in Arabic.",
            "Why can't I have more than one default printer? That doesn't work for us with two stations.",
            "Could the template editor have a grid snap option? Lining things up is fiddly.",
            "It would help if the print history could be exported to CSV.",
        ]
    )
    subjects = ["Feature request", "Suggestion", "Idea", "Feedback", "Wishlist"]
    return subjects, core, triage("other", "answer_from_help_center", tier)


def sc_close(tier: str):
    agent = pick(AGENTS)
    kind = rng.randint(0, 4)
    if kind == 0:
        core = pick(
            [
                f"Thanks {agent}, that fixed it!",
                "All sorted now, thank you so much for the quick help.",
                "Never mind, found the setting. Thanks anyway.",
                "It's working again this morning, no need to look into it.",
                f"Got it, thank you {agent}. Have a good weekend.",
                "Just wanted to say the new printer is brilliant. Thanks!",
                "Replacement arrived today, works perfectly. Cheers.",
                "Ignore my last email, my colleague had already done it.",
                "Perfect, that's all I needed.",
            ]
        )
        subjects = [
            "Re: your request",
            "Thanks",
            "Solved",
            "thank you",
            "Re: Printer problem",
            "Re: Question",
        ]
    elif kind == 1:
        d = rng.randint(2, 28)
        core = pick(
            [
                f"I am out of the office until {d} {pick(MONTHS)} with limited access to email. For urgent matters please contact the shop phone.",
                f"Thank you for your email. I'm on annual leave and will reply when I'm back on {pick(WEEKDAYS)}.",
                "This is an automatic reply: your message has been received by our accounts team and will be processed within 5 working days.",
                "Automatic reply: I no longer work at this company. Please send all correspondence to the general inbox.",
                f"Thanks for your message! Our shop is closed for the holidays until {d} {pick(MONTHS)}. Orders placed "
                "now will ship when we're back.",
                "I'm at a trade fair all week and checking email only in the evenings. I'll get back to you as soon as I can.",
            ]
        )
        subjects = ["Automatic reply", "Out of office", "Auto: Re: Your ticket", "Autoreply"]
        return subjects, core, triage("other", "close_no_action", tier), True
    elif kind == 2:
        core = pick(
            [
                "We can get your website to page one of search results in 30 days. Guaranteed. Reply YES for a free audit.",
                "Dear business owner, we offer high quality guest posts on authority sites. Prices from $50.",
                "Your domain listing is about to expire. Pay the attached invoice to keep your business visible.",
                "Hi! I noticed your Instagram could use more followers. We have packages for every budget.",
                "Cheap label rolls direct from factory, any size, MOQ 10000. WhatsApp us.",
                "Congratulations! Your business has been selected for our Top Retailers 2025 directory. Confirm your "
                "listing today for only $299.",
                "Hello, I am a freelance web developer. Your site loads slowly on mobile. I can fix it for a small fee.",
            ]
        )
        subjects = [
            "Partnership opportunity",
            "Quick question",
            "Your website",
            "Invoice overdue",
            "Grow your business",
        ]
        return subjects, core, triage("other", "close_no_action", tier), True
    elif kind == 3:
        core = pick(
            [
                "Sorry, sent that last email to the wrong address. Please ignore.",
                "test",
                "Please disregard, this was meant for our internal IT.",
            ]
        )
        subjects = ["(no subject)", "test", "Ignore", "Wrong address"]
        return subjects, core, triage("other", "close_no_action", tier), True
    else:
        core = pick(
            [
                "Just confirming I received the replacement and sent the old one back with the label you gave me.",
                "Thanks for the refund, it showed up on my statement today.",
                "The parcel turned up after all! Please cancel the reshipment if you haven't sent it. Actually I see it was never started, so all good.",
            ]
        )
        subjects = ["Re: Replacement", "Re: Refund", "Update", "Re: Lost parcel"]
    return subjects, core, triage("other", "close_no_action", tier)


def sc_press_jobs(tier: str):
    core = pick(
        [
            "I'm writing an article on small-business shipping tools for a trade magazine. Could I interview someone from Kestrel?",
            "Do you have any open positions in customer support? I've attached my CV.",
            "We run a charity fun run in the spring. Would Kestrel sponsor the event or donate a printer for the raffle?",
            "I'm a student doing a thesis on e-commerce logistics. Could someone answer a short survey?",
            "Podcast invitation: we'd love to have your founder on our show about indie retail.",
        ]
    )
    subjects = ["Enquiry", "Hello", "Request", "Contact"]
    return subjects, core, triage("other", "answer_from_help_center", tier)


# (scenario, how many, plan weights free/pro/enterprise)
SCENARIOS = [
    (sc_duplicate_charge, 16, (30, 50, 20)),
    (sc_annual_refund, 20, (0, 1, 0)),
    (sc_monthly_refund, 9, (0, 1, 0)),
    (sc_charged_after_cancel, 8, (0, 1, 0)),
    (sc_billing_admin, 18, (35, 45, 20)),
    (sc_enterprise_contract, 8, (0, 0, 1)),
    (sc_plan_question, 6, (55, 45, 0)),
    (sc_late_short, 13, (45, 40, 15)),
    (sc_late_long, 20, (45, 40, 15)),
    (sc_damaged_recent, 24, (45, 40, 15)),
    (sc_damaged_late, 5, (45, 40, 15)),
    (sc_shipping_question, 15, (45, 40, 15)),
    (sc_return_within, 20, (45, 40, 15)),
    (sc_return_late, 9, (45, 40, 15)),
    (sc_opened_rolls, 5, (45, 40, 15)),
    (sc_fault_within, 28, (45, 40, 15)),
    (sc_accessory, 10, (45, 40, 15)),
    (sc_fault_not_covered, 14, (45, 40, 15)),
    (sc_calibrated_fault, 5, (45, 40, 15)),
    (sc_password, 22, (45, 40, 15)),
    (sc_other_address, 6, (40, 40, 20)),
    (sc_lost_2fa, 8, (40, 40, 20)),
    (sc_compromise, 13, (35, 40, 25)),
    (sc_phishing, 7, (40, 40, 20)),
    (sc_sso, 6, (0, 0, 1)),
    (sc_account_admin, 9, (45, 40, 15)),
    (sc_outage, 20, (35, 40, 25)),
    (sc_bug, 30, (35, 45, 20)),
    (sc_howto, 22, (50, 38, 12)),
    (sc_alignment, 9, (50, 38, 12)),
    (sc_sales, 14, (50, 30, 20)),
    (sc_small_purchase, 6, (55, 40, 5)),
    (sc_feature, 10, (40, 45, 15)),
    (sc_close, 21, (45, 40, 15)),
    (sc_press_jobs, 5, (60, 35, 5)),
]

# Subjects that belong to one particular story; each prefix is the start of a core above. An email
# takes one of these most of the time, else one of its scenario's general subjects.
SUBJECT_HINTS = {
    "Could you send me a VAT invoice": ["VAT invoice", "Invoice with VAT number"],
    "How do I change the credit card": ["Change payment method", "Update card", "Expired card"],
    "Need a copy of invoice": ["Invoice copy", "Copy of invoice"],
    "My payment failed": ["payment failed", "Payment failed?"],
    "Where do I download receipts": ["Receipts", "Where are my receipts"],
    "Can the invoices be addressed": ["Invoice name", "Company name on invoices"],
    "Is it possible to pay by bank transfer": ["Bank transfer", "Payment by transfer"],
    "Our billing contact should be": ["Billing contact", "Invoice recipient"],
    "The invoice shows our old address": ["Invoice address", "Wrong address on invoice"],
    "Do your prices include sales tax": ["Sales tax", "Tax question"],
    "I'd like to switch from monthly to yearly": ["Switch to yearly", "Annual billing"],
    "Our accountant is asking": ["Invoices for last year", "All invoices"],
    "We are VAT registered": ["VAT ID", "Reverse charge VAT"],
    "The card payment was declined": ["Card declined", "Payment declined"],
    "Hi, what currency": ["Currency", "Billing currency"],
    "Can I get receipts sent to two": ["Receipts", "Second receipt address"],
    "The invoice PDF won't open": ["Invoice PDF broken", "Can't open invoice"],
    "Do you accept PayPal": ["PayPal?", "Payment options"],
    "Where can I see when my next payment": ["Next payment", "Renewal date"],
    "We need to add": ["More seats", "Adding seats"],
    "Our procurement team": ["PO number on invoices", "Purchase order"],
    "Our contract renews": ["Renewal", "Contract renewal"],
    "Invoice INV-": ["Invoice seats wrong", "Seat count on invoice"],
    "We removed a whole team": ["Seat credit", "Removed seats"],
    "Finance asks whether": ["Split invoice", "Cost centres"],
    "Could you send the W-9": ["W-9 and order form", "Vendor onboarding"],
    "What's the difference between Free": ["Free vs Pro", "Plans"],
    "If I switch from monthly to yearly": ["Monthly to yearly", "Switching billing"],
    "How do I downgrade": ["Downgrade", "Downgrade to Free"],
    "Is there a nonprofit discount": ["Nonprofit discount", "Discount for charities?"],
    "Do I need Pro to use": ["Shopvine and Free plan", "Integration on Free?"],
    "We are 3 people": ["Pro for a team", "How many subscriptions"],
    "hi does the free plan": ["free plan limit", "free plan"],
    "The box arrived": ["Damaged delivery", "Box crushed", "Broken on arrival"],
    "You sent me 2-inch labels": ["Wrong labels sent", "Wrong item received"],
    "The cutter module was missing": ["Missing item", "Something missing from box"],
    "The battery base was missing": ["Missing item", "Something missing from box"],
    "The XL roll holder was missing": ["Missing item", "Missing roll holder"],
    "The power adapter was missing": ["Missing item", "No power adapter in the box"],
    "Received a K2": ["Wrong printer", "Wrong model sent"],
    "Parcel came": ["Damaged parcel", "Broken on arrival"],
    "hi, got my order": ["missing rolls", "Missing items"],
    "The delivery man threw": ["Damaged delivery", "Broken paper guide"],
    "Unpacked the": ["Wrong power adapter", "Wrong plug"],
    "Dear team, the printer arrive": ["Printer broken in transport", "Damaged"],
    "Wrong colour": ["Wrong colour", "Wrong colour sent"],
    "I got my order": ["Broken roll holder", "Damaged item"],
    "We received the printers": ["Wrong model", "Wrong printer in box"],
    "The parcel arrived": ["Missing label roll", "Missing item"],
    "I typed the wrong house number": ["Change address", "Wrong address on order"],
    "Can I cancel the order": ["Cancel order", "Cancel my order please"],
    "Do you ship to PO boxes": ["PO box delivery", "Delivery to PO box"],
    "How much are the import fees": ["Import fees", "Customs to UK"],
    "Is there express shipping": ["Express shipping?", "Need it by Friday"],
    "I got two tracking numbers": ["Two tracking numbers", "Tracking question"],
    "Can I pick up my order": ["Pick up instead of delivery", "Collection"],
    "Do you deliver to Switzerland": ["Shipping to Switzerland", "Customs Switzerland"],
    "I'm moving next week": ["Moving house", "Hold my order"],
    "The courier left a card": ["Duties", "Customs charges"],
    "Can you deliver to a parcel locker": ["Parcel locker", "Delivery to locker"],
    "Our warehouse only accepts": ["Delivery time slot", "Delivery window"],
    "what days do you ship": ["shipping days", "when do you ship"],
    "Can I add label rolls": ["Add to order", "Combine orders"],
    "Do you ship to the Canary": ["Canary Islands", "Shipping to Tenerife"],
    "My order says 'processing'": ["Processing?", "When will it ship"],
    "One of our developers accidentally pushed": ["API key leaked", "Leaked API key"],
    "Our API key showed up": ["API key exposed", "Revoke API key"],
    "We shared an API key": ["Revoke API key please", "API key shared by mistake"],
    "I got an alert about a login": ["Suspicious login", "Login from abroad"],
    "My password was changed": ["Password changed - not me", "Account hacked?"],
    "There's an admin user": ["Unknown admin in workspace", "Unknown user"],
    "Someone changed the return address": ["Templates changed", "Someone edited our templates"],
    "We're seeing print jobs": ["Unknown print jobs", "Print jobs we didn't send"],
    "The login email on my account was changed": ["Login email changed", "Account taken over?"],
    "My account was hacked": ["HACKED", "Account hacked"],
    "Got a 'new device signed in'": ["New device sign-in", "Sign-in alert"],
    "Someone deleted all of our templates": ["Templates deleted", "Unknown user in audit log"],
    "I think someone has our password": ["Someone has our password", "Labels edited"],
    "Please delete my account": ["Delete account", "Close my account"],
    "How do I change the email I log in with": ["Change login email", "New email address"],
    "I'm leaving the company": ["Transfer ownership", "Handing over the account"],
    "How do I add a second person": ["Add user", "Second user"],
    "Can I export all my templates": ["Export templates", "Export before closing"],
    "How do I remove an ex-employee": ["Remove user", "Remove ex-employee"],
    "Can I have two workspaces": ["Two workspaces", "Second shop"],
    "I'd like to change the name on the account": ["Name change", "Change account name"],
    "Studio won't load": ["Studio down", "Studio not loading"],
    "Your API returns 503": ["API down", "API 503 errors"],
    "All print jobs are stuck": ["Print queue stuck", "Can't print anything"],
    "The desktop app crashes on launch": ["App won't start", "Desktop app crashing"],
    "Studio shows 'Something went wrong'": ["Studio error", "Can't use Studio"],
    "We can't print ANY labels": ["Can't print anything", "NOTHING PRINTS"],
    "The web app is down": ["Web app down", "Studio down"],
    "Every call to /v2/labels": ["API timeouts", "API down"],
    "None of our printers receive": ["Printers not receiving jobs", "Can't print anything"],
    "The login page loads": ["White screen", "Studio down"],
    "Label generation is failing": ["Internal error on all labels", "Label generation failing"],
    "Studio has been unreachable": ["Studio unreachable", "Outage?"],
    "Your API is timing out": ["API timeouts", "API down"],
    "Barcodes exported": ["Barcode issue", "Wrong check digit"],
    "The CSV import": ["CSV import bug", "Import loses a row"],
    "Fonts in my template": ["Template bug", "Fonts reset"],
    "Product names with accents": ["Accents print as boxes", "Special characters"],
    "The Mini app crashes": ["Mini app crash", "App crashes"],
    "Dates print in US format": ["Date format wrong", "Wrong date format"],
    "Batch printing 200 labels": ["Batch print missing label", "Batch printing bug"],
    "Our Shopvine integration": ["Shopvine duplicates", "Integration problem"],
    "Our MarketNest integration": ["MarketNest duplicates", "Integration problem"],
    "The order-shipped webhook": ["Webhook fires twice", "Duplicate webhooks"],
    "When I duplicate a template": ["Duplicated template loses logo", "Template bug"],
    "The QR codes come out mirrored": ["Mirrored QR codes", "QR code problem"],
    "Zooming in the template editor": ["Editor moves text", "Template editor bug"],
    "Addresses from": ["Address line missing", "Integration problem"],
    "Search in the template library": ["Template search", "Search bug"],
    "The 'print preview' shows": ["Print cut off", "Preview vs print"],
    "The API returns 200": ["Empty PDF from API", "API issue"],
    "Undo in the editor": ["Undo bug", "Editor undo"],
    "Weight field rounds": ["Weight rounding", "Wrong weight on label"],
    "Saving a template with a name": ["Error saving template", "Template name bug"],
    "The label preview shows my logo": ["Logo missing on print", "Logo not printing"],
    "When two of us edit": ["Changes lost", "Template editing conflict"],
    "Page numbers on batch PDFs": ["Batch PDF page numbers", "PDF numbering"],
    "The Studio desktop app ignores": ["Darkness setting ignored", "Desktop app bug"],
    "Return labels generated through the API": ["API return labels wrong", "Sender and recipient swapped"],
    "The barcode font changes": ["Barcode font changes", "Export/import bug"],
    "Studio shows the wrong timezone": ["Timezone wrong", "Print history time off"],
    "How do I connect the": ["Wi-Fi setup", "Pairing code?"],
    "Is there a driver for Linux": ["Linux driver", "Ubuntu support"],
    "How do I set a default label size": ["Default label size", "Label size setting"],
    "Can I print from my phone": ["Print from phone", "Mobile printing"],
    "How do I add our logo": ["Logo on labels", "Help with template"],
    "Where do I find the API documentation": ["API docs", "API documentation"],
    "What's the API rate limit": ["API rate limit", "API limits"],
    "How do I print 3 copies": ["Multiple copies", "Print copies"],
    "How do I connect Studio to our": ["Integration setup", "Connect our store"],
    "Does the Mini work with Bluetooth": ["Mini and iPad", "Bluetooth"],
    "Which label size should I use": ["Label size for Parcelwise", "Which labels?"],
    "How do I install the printer on a Mac": ["Mac install", "M2 Mac"],
    "Is it possible to print product labels": ["Labels from spreadsheet", "Price labels"],
    "Can two computers share": ["Sharing a printer", "Network printing"],
    "How do I make the labels print darker": ["Print darker", "Faint print"],
    "How do I update the printer firmware": ["Firmware update", "Firmware"],
    "Can I use my own label rolls": ["Other brand labels?", "Third-party rolls"],
    "Where do I change the label language": ["Inches to mm", "Units"],
    "How do I save a template so my colleague": ["Sharing templates", "Template for colleague"],
    "Can Studio print a sequential number": ["Sequential numbers", "Numbering labels"],
    "Is there a way to print return labels": ["Bulk return labels", "Return labels"],
    "How do I reset the K4": ["Factory reset", "Reset K4"],
    "The labels print shifted": ["Labels misaligned", "Print shifted"],
    "Every other label comes out blank": ["Blank labels", "Every other label blank"],
    "Print starts halfway down": ["Print starts halfway", "Offset"],
    "Since I changed to the new rolls": ["Not centred", "Print too low"],
    "We're looking to buy": ["Quote request", "Bulk order"],
    "Are you looking for resellers": ["Reseller enquiry", "Distribution"],
    "We'd like an Enterprise quote": ["Enterprise plan", "Enterprise quote"],
    "What's the volume price": ["Volume pricing", "Bulk pricing"],
    "Our franchise is rolling out": ["Franchise rollout", "Contract for our stores"],
    "We are a 3PL": ["Partner programme", "Partnership"],
    "Could someone from sales": ["Call from sales", "Minis for field team"],
    "I'm writing an article": ["Press enquiry", "Interview request"],
    "Do you have any open positions": ["Job application", "Customer support job"],
    "We run a charity fun run": ["Sponsorship", "Charity raffle"],
    "I'm a student doing a thesis": ["Survey request", "Thesis survey"],
    "Podcast invitation": ["Podcast invitation", "Interview request"],
}


def subject_for(core: str, subjects: list[str]) -> str:
    for prefix, own in SUBJECT_HINTS.items():
        if core.startswith(prefix) and maybe(0.75):
            return pick(own)
    return pick(subjects)


# Scenarios where nothing has gone wrong: the customer is not angry.
CALM = {
    sc_sales,
    sc_small_purchase,
    sc_press_jobs,
    sc_plan_question,
    sc_account_admin,
    sc_enterprise_contract,
    sc_close,
    sc_feature,
    sc_howto,
    sc_shipping_question,
    sc_billing_admin,
}

# --- the rest of an email ------------------------------------------------------------------------

GREETINGS = [
    "Hi",
    "Hello",
    "Hi there",
    "Hello Kestrel team",
    "Dear Sir/Madam",
    "Hey",
    "Good morning",
    "Dear support",
    "To whom it may concern",
    "Hi Kestrel",
    "Hiya",
    "Good afternoon",
    "Dear Kestrel Support team",
    "Hello support",
    "Hi folks",
    "Greetings",
    "Hallo",
    "Dear all",
    "Morning",
    "Hi support team",
]
CLOSINGS = [
    "Thanks",
    "Best regards",
    "Cheers",
    "Thx",
    "Kind regards",
    "Regards",
    "Many thanks in advance",
    "Thank you",
    "Best",
    "Thanks a lot",
    "All the best",
    "Speak soon",
    "Have a nice day",
    "Greetings",
    "With kind regards",
    "Thanks for your help",
    "Looking forward to hearing from you",
    "Ta",
]
D_CHARGE = [
    "I've attached a screenshot of the statement.",
    "Our bookkeeper spotted it when reconciling the month.",
    "I'd like it sorted before our month-end close.",
    "My bank said I should ask you first before they open a dispute.",
    "I'd rather sort this out with you than do a chargeback.",
    "The billing page in Studio doesn't show anything unusual.",
]
D_SUBSCRIPTION = [
    "We mostly print shipping labels, so we never used the fancy templates.",
    "Business has been slow this year, so every bit counts.",
    "I did like the app, it's just not the right time for us.",
    "I looked in the account settings but couldn't work it out.",
    "We only have the one printer anyway.",
]
D_BILLING_ADMIN = [
    "Our accountant needs this by the end of the month.",
    "We're a limited company registered in England.",
    "The finance team is copied on this email.",
    "I looked in the billing settings but couldn't find it.",
    "It's for our year-end paperwork.",
]
D_LATE = [
    "I checked with the neighbours and the post room, nothing.",
    "We're at the address all day, so nobody could have missed the courier.",
    "The tracking page is not very helpful, to be honest.",
    "We need the rolls for a big dispatch on Monday.",
    "I ordered the same thing last year and it came in two days.",
    "The courier's phone line just plays music and hangs up.",
]
D_DAMAGE = [
    "I've taken photos of everything.",
    "I haven't thrown away the packaging yet.",
    "The packing slip lists everything correctly.",
    "Happy to send it back if you give me a label.",
    "My colleague unpacked it, I'm just writing in for her.",
]
D_SHIPPING_Q = [
    "We're a small team, so we can't wait in all day.",
    "It's my first order with you.",
    "It's for our second shop.",
    "Sorry if this is covered somewhere on your site.",
]
D_RETURN = [
    "I still have the original box.",
    "It's in perfect condition.",
    "I can drop it at a post office any day.",
    "Please send me whatever label or form I need.",
    "Nothing wrong with it, it's just not for us.",
]
D_FAULT = [
    "The serial number on the bottom is KS{serial}.",
    "I've attached a short video of it.",
    "We use it with the desktop app on Windows.",
    "It's our only printer, so we're writing labels by hand right now.",
    "I cleaned the printhead with the cleaning pen like the manual says.",
    "Tried a different roll, same thing.",
    "Unplugged it overnight and tried again this morning, no change.",
]
D_ACCESSORY = [
    "I've attached a photo.",
    "Everything else works fine.",
    "We use it every day, so it gets some wear, but not that much.",
    "It's the only one we have.",
]
D_LOGIN = [
    "I've tried Chrome and Safari.",
    "I need to print today's orders, so I'm a bit stuck.",
    "I've cleared the cache and cookies like your article says.",
    "Nothing has changed on my side as far as I know.",
]
D_SECURITY = [
    "I've told the rest of the team not to log in for now.",
    "We have screenshots if you need them.",
    "Nobody here shares their password, as far as I know.",
    "I'm really worried about our customers' addresses.",
]
D_SSO = [
    "Our identity provider is set up as described in your guide.",
    "Nothing changed on the identity provider side this week.",
    "I'm the IT admin for the workspace.",
]
D_ACCOUNT = [
    "I'm the owner of the workspace.",
    "I couldn't find it in the settings.",
    "Not urgent.",
]
D_TECH = [
    "We're on Windows 11 with the latest Studio version.",
    "Browser is Chrome, latest version.",
    "I've attached a screenshot.",
    "It worked fine last week.",
    "I've restarted the printers and the computers.",
    "Our IT person checked the network and says it's fine.",
]
D_HOWTO = [
    "I've looked in the help center but got lost.",
    "We're on a Mac.",
    "I'm not very good with computers.",
    "A colleague said it's possible but couldn't remember how.",
]
D_SALES = [
    "We're currently using printers from another brand.",
    "We've been testing one K4 for a month and like it.",
    "Our budget is approved for this quarter.",
    "Happy to jump on a call.",
]
D_IDEA = [
    "Just an idea!",
    "Otherwise we love the app.",
    "Several people in our team asked for this.",
    "Happy to send more details.",
]
DETAILS = {
    sc_duplicate_charge: D_CHARGE,
    sc_charged_after_cancel: D_CHARGE,
    sc_annual_refund: D_SUBSCRIPTION,
    sc_monthly_refund: D_SUBSCRIPTION,
    sc_plan_question: D_SUBSCRIPTION,
    sc_billing_admin: D_BILLING_ADMIN,
    sc_enterprise_contract: D_BILLING_ADMIN,
    sc_late_short: D_LATE,
    sc_late_long: D_LATE,
    sc_damaged_recent: D_DAMAGE,
    sc_damaged_late: D_DAMAGE,
    sc_shipping_question: D_SHIPPING_Q,
    sc_return_within: D_RETURN,
    sc_return_late: D_RETURN,
    sc_opened_rolls: D_RETURN,
    sc_fault_within: D_FAULT,
    sc_accessory: D_ACCESSORY,
    sc_fault_not_covered: D_FAULT,
    sc_calibrated_fault: D_FAULT,
    sc_alignment: D_FAULT,
    sc_password: D_LOGIN,
    sc_other_address: D_LOGIN,
    sc_lost_2fa: D_LOGIN,
    sc_compromise: D_SECURITY,
    sc_phishing: D_SECURITY,
    sc_sso: D_SSO,
    sc_account_admin: D_ACCOUNT,
    sc_outage: D_TECH,
    sc_bug: D_TECH,
    sc_howto: D_HOWTO,
    sc_sales: D_SALES,
    sc_small_purchase: D_SALES,
    sc_feature: D_IDEA,
    sc_press_jobs: D_IDEA,
}
STORIES = [
    "Some background: we started selling online two years ago and went from ten orders a week to about a "
    "hundred. The Kestrel setup was a big part of making that manageable, so I'd really like to keep using it.",
    "To give you the full picture, I run the shop with two part-timers and we share one computer at the "
    "packing desk. Whoever is in that day deals with the labels, so things sometimes get lost between us.",
    "I'll be honest, I've put off writing this for a while because I hoped it would sort itself out. It hasn't.",
    "For what it's worth, your printers have been mostly great. We recommended them to two other shops on our street.",
    "We're in the middle of a stock take this week, so everything is a bit upside down here. Sorry if this "
    "email is all over the place.",
    "My colleague normally handles this kind of thing but she's on leave, so I'm learning as I go.",
    "I spent most of yesterday evening on this and I'm a bit tired of it, so I hope you can help.",
    "We switched to Kestrel from handwritten labels last year, and most of the team still isn't very confident "
    "with the software.",
    "Our shop is in a converted barn with pretty patchy internet, in case that matters.",
    "I'm writing this from the packing room between orders, so apologies for any mistakes.",
]
IDENTITY = [  # who is writing: at most one per email
    "We run a small candle shop and ship about 40 parcels a day.",
    "We use Kestrel printers at our weekend market stall and in the shop.",
    "We're a family business, just me and my sister.",
    "We have four packing stations, all on Kestrel.",
    "I'm writing on behalf of my mum, who runs the shop.",
    "I sell vintage clothes online, mostly through my own website.",
    "We're a veterinary clinic and print labels for medication bags.",
    "I run a small bakery and use the labels for allergen info.",
    "We're a bike shop and mostly print labels for spare parts.",
    "I make jewellery at home and ship to customers all over Europe.",
    "We're a three-person team selling board games online.",
    "Our warehouse team switched to your printers in the spring.",
]
CONTEXT = [  # anything else
    "I've been a customer since 2021 and mostly very happy.",
    "I'm not very technical so please bear with me.",
    "Our busy season starts in two weeks, so timing matters for us.",
    "Apologies for the long email.",
    "I tried your chat first but it said nobody was available.",
    "We print a few hundred labels a week, nothing crazy.",
    "English is not my first language, sorry for mistakes.",
    "Our IT person is on holiday, so I'm the one dealing with this.",
    "First time writing to you.",
    "We moved to a new unit last month and everything is still a bit chaotic.",
    "I have a stack of orders waiting on the table as I write this.",
    "I looked through the help pages but couldn't find this.",
]
ANGRY = [
    "This is the third time I'm writing about this.",
    "Honestly I'm losing patience.",
    "I expected better for what we pay.",
    "Very disappointed.",
    "If this isn't sorted I'll be leaving a review.",
    "Nobody has replied to my last two emails.",
    "This is really not acceptable.",
    "I'm seriously considering switching to another brand.",
    "Please actually read this before sending me a template answer.",
    "Fix it.",
]
POLITE = [
    "Thanks in advance for your help!",
    "I appreciate any help you can give.",
    "No rush, whenever you get a chance.",
    "Sorry to bother you with this.",
    "Hope you're having a good week.",
    "You've always been helpful before, so fingers crossed.",
]
SECONDARY = [
    "Also, unrelated: is there a way to print landscape from the Mini app?",
    "PS: love the new template gallery.",
    "While I have you, do you sell 2x1 inch rolls?",
    "Side question, can I add a second user on my plan?",
    "By the way, is there a Linux driver yet?",
    "One more thing: it would be nice if the app remembered my last label size.",
    "P.S. how do I change the language of the app?",
    "Also, what's the best label size for small jars?",
    "PS. The new packaging looks great.",
]
LEADINS = [
    "Quick question first: how do I make labels print darker?",
    "First, a small thing: the link in your footer goes to a 404 page.",
    "I wanted to ask whether you sell 2x1 inch rolls, but there's something more important.",
    "Love the new editor by the way. But:",
    "Before anything else: what are your phone support hours?",
    "Two things. The small one: can I change the app language?",
]
QUOTED = [
    "Thanks for reaching out. Could you tell us a bit more about what you're seeing?",
    "We've passed this on to the right team and will get back to you shortly.",
    "Thank you for your patience while we look into this.",
    "Your ticket has been received. Our team usually replies within one business day.",
    "Could you reply with any details that might help us, such as screenshots or dates?",
    "Sorry for the slow reply, we're working through a backlog this week.",
]
FORWARD_NOTES = [
    "Forwarding this from our warehouse manager, can you help?",
    "See below from my colleague.",
    "FYI, passing this on from our shop team.",
    "Sending this on behalf of our packing team.",
]


def signature(first: str, last: str) -> str:
    lines = []
    style = rng.randint(0, 6)
    if style == 0:
        lines.append(first)
    elif style == 1:
        lines.append(f"{first} {last}")
    elif style == 2:
        lines += [f"{first} {last}", pick(SHOPS)]
    elif style == 3:
        lines += [
            f"{first} {last}",
            pick(["Owner", "Operations", "Office manager", "Warehouse lead", "Director"])
            + ", "
            + pick(SHOPS),
            phone(),
        ]
    elif style == 4:
        lines += [f"{first} {last[0]}.", email_of(first, last)]
    elif style == 5:
        lines += [f"{first} {last} | {pick(SHOPS)}", f"Tel. {phone()}", email_of(first, last)]
        if maybe(0.25):
            lines.append(f"Bank: {iban()}")
    else:
        lines += [
            f"-- {first}",
            pick(["Sent from my iPhone", "Sent from my phone, excuse typos", "Get Outlook for Android"]),
        ]
    return "\n".join(lines)


def add_typos(text: str, n: int) -> str:
    words = text.split(" ")
    keep = {"order", "number", "months", "weeks", "days"}  # never blur the facts the labels rest on
    spots = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha() and w.lower() not in keep]
    for i in rng.sample(spots, min(n, len(spots))):
        w = list(words[i])
        j = rng.randint(1, len(w) - 2)
        kind = rng.randint(0, 2)
        if kind == 0:
            w[j], w[j + 1] = w[j + 1], w[j]
        elif kind == 1:
            del w[j]
        else:
            w.insert(j, w[j])
        words[i] = "".join(w)
    return " ".join(words)


def compose_bare(subjects: list[str], core: str) -> str:
    """Auto-replies, spam and test messages: no greeting, no story, maybe a signature block."""
    first, last = person()
    text = core
    if maybe(0.6):
        text += "\n\n" + pick(
            [f"{first} {last}", f"{first} {last}\n{pick(SHOPS)}", first, f"{first} {last}\n{phone()}"]
        )
    return f"Subject: {pick(subjects)}\n\n{text}"


def compose(
    subjects: list[str],
    core: str,
    labels: dict,
    allow_terse: bool = True,
    calm: bool = False,
    details: list[str] | None = None,
) -> str:
    first, last = person()
    quiet = labels["next_step"] == "close_no_action"
    length = rng.choices(
        ["terse", "short", "medium", "long"], weights=[12 if allow_terse else 0, 30, 38, 20]
    )[0]
    tone = rng.choices(["neutral", "angry", "polite"], weights=[65, 0 if quiet or calm else 20, 15])[0]
    if any("KL-" in s for s in subjects):  # the order number is in the subject: keep it there
        subject = pick(subjects)
    else:
        subject = (
            subject_for(core, subjects)
            if maybe(0.93)
            else pick(["Help", "Support request", "(no subject)", "Kestrel", "Hi"])
        )
    if tone == "angry" and maybe(0.5):
        subject = subject.upper() + pick(["!!!", "!", ""])
    if maybe(0.03 if calm or quiet else 0.08) or (tone == "angry" and maybe(0.3)):
        subject = pick(["URGENT: ", "URGENT - ", "ASAP: ", "Emergency: "]) + subject
    body: list[str] = []
    lead = ""
    if labels["priority"] != "low" and maybe(0.09):
        lead = pick(LEADINS)
    if length == "terse":
        text = core
        if lead:
            text = lead + " " + text
        if maybe(0.3):
            text += "\n" + pick([first, first.lower(), f"{first[0]}.", "thx", "- " + first])
        body.append(text)
    else:
        if maybe(0.2):
            greet = pick(["Hi", "Hello", "Hey", "Dear", "Good morning", "Hiya"]) + " " + pick(AGENTS)
        else:
            greet = pick(GREETINGS)
        informal = greet.split()[0] in ("Hi", "Hey", "Hello", "Hiya", "Morning")
        greets = bool(re.match(r"(hi|hello|hey|dear|good (day|morning|afternoon))\b", core, re.I))
        if greets:  # the customer's own words open the email
            lead = ""
        else:
            body.append(greet + (pick([",", ",", "", "!"]) if informal else pick([",", ""])))
        opening: list[str] = []
        if not quiet and not greets and (length == "long" or maybe(0.2)):
            opening.append(pick(IDENTITY))
        if length == "long" and not quiet and maybe(0.7):
            opening.append(pick(CONTEXT))
        stories = rng.sample(STORIES, 2)
        if length == "long" and not quiet and not greets and maybe(0.45):
            body.append(" ".join([*opening, stories[0]]))
            opening = []
        main = opening + ([lead] if lead else []) + [core]
        n_details = {"short": 0, "medium": rng.choice([0, 0, 1]), "long": rng.choice([1, 2, 2, 3])}[length]
        main += rng.sample(details, min(n_details, len(details))) if details else []
        closing_bits: list[str] = []
        if tone == "angry" and not calm:
            closing_bits.append(pick(ANGRY))
        elif tone == "polite" and length != "short":
            closing_bits.append(pick(POLITE))
        if length in ("medium", "long") and not quiet and maybe(0.25):
            closing_bits.append(pick(SECONDARY))
        if length == "long" and len(main) > 2 and maybe(0.7):
            cut = rng.randint(2, len(main))
            body.append(" ".join(main[:cut]))
            body.append(" ".join(main[cut:] + closing_bits))
        else:
            body.append(" ".join(main + closing_bits))
        if length == "long" and not quiet and maybe(0.3):
            body.append(pick(["Anyway. ", "Oh, and on a different note: ", "", "Last thing. "]) + stories[1])
        body.append(pick(CLOSINGS) + pick([",", "", "!"]) + "\n" + signature(first, last))
    text = "\n\n".join(b for b in body if b)
    if maybe(0.22):
        text = add_typos(text, rng.randint(1, 3))
    if length == "terse" and maybe(0.3):
        text = text.lower()
    if maybe(0.1) and length != "terse":
        agent = pick(AGENTS)
        quoted = [f"Hi {first},", "", pick(QUOTED), "", f"{agent}", "Kestrel Support"]
        text += f"\n\nOn {pick(WEEKDAYS)}, {agent} from Kestrel Support wrote:\n" + "\n".join(
            "> " + q if q else ">" for q in quoted
        )
        subject = "Re: " + subject
    elif maybe(0.05) and length != "terse":
        f2, _ = person()
        text = (
            f"{pick(FORWARD_NOTES)}\n{f2}\n\n---------- Forwarded message ---------\n"
            f"From: {first} {last} <{email_of(first, last)}>\nSubject: {subject}\n\n{text}"
        )
        subject = "Fwd: " + subject
    return f"Subject: {subject}\n\n{text}"


def normalise(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def main() -> None:
    rows = []
    seen_cores: set[str] = set()
    terse_starts: set[str] = set()
    seen: set[str] = set()
    for scenario, count, weights in SCENARIOS:
        made = tries = 0
        while made < count and tries < count * 50:
            tries += 1
            tier = tier_of(weights)
            subjects, core, labels, *bare = scenario(tier)
            key = normalise(core)
            # A core may repeat only rarely, and never as a bare one-liner, so that no two emails
            # tell the same story in the same words.
            repeat = key in seen_cores
            start = re.sub(r"\d+", "#", key)[:20]
            if (bare and (repeat or start in terse_starts)) or (repeat and maybe(0.85)):
                continue
            calm = scenario in CALM
            allow_terse = not repeat and start not in terse_starts
            details = [d.format(serial=rng.randint(10**7, 10**8 - 1)) for d in DETAILS.get(scenario, [])]
            email = (
                compose_bare(subjects, core)
                if bare
                else compose(subjects, core, labels, allow_terse, calm, details)
            )
            if normalise(email) in seen:
                continue
            seen_cores.add(key)
            terse_starts.add(start)  # later emails from this template are never one-liners
            seen.add(normalise(email))
            rows.append({"email": email, "customer_tier": tier, "triage": labels})
            made += 1
    rng.shuffle(rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for i, row in enumerate(rows, 1):
            f.write(json.dumps({"id": f"t{i:04d}", **row}, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} tickets to {OUT}")


if __name__ == "__main__":
    main()
