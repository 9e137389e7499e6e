"""Prompt-injection screening of what a served model reads: request inputs and retrieved passages.

An injection is text that tries to become the prompt's instructions instead of its data: "ignore
the previous instructions and …", a fake system turn, a request to print the hidden prompt. A
served release reads untrusted text twice, in the request and in the knowledge base passages
retrieved for it, so both are screened.

Why rules and not a model: the served models here are small, and a learned detector would be
another model to load, measure and keep calibrated. These rules look for the *shape* of an
attack (an override verb aimed at the instructions, a role reassignment, a request for the
system prompt, a chat-template control token), which ordinary business text does not have; the
tests check both that every such attempt in a set of phrasings is caught and that no example of
the shipped tasks (support emails, banking queries, invoices, policy questions, their knowledge
bases) is flagged. Text is normalised first (Unicode NFKC, zero-width characters removed,
whitespace collapsed, leetspeak digits in words mapped back), so the easy obfuscations do not slip
through. A determined attacker will find phrasings these rules miss: screening lowers the risk,
the output contract and the fallback are what bound the damage.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["InjectionFinding", "InjectionScreen"]

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"\b(?=\w*[a-z])[\w@$]*[013457@$][\w@$]*\b")

_OVERRIDE_VERBS = (
    r"(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|stop following|do not follow|don't follow)"
)
_MODEL_QUALIFIER = r"(?:your|previous|prior|above|earlier|preceding|original|initial|system)"
_ANY_QUALIFIER = rf"(?:all|any|every|the|these|those|{_MODEL_QUALIFIER})"
_INSTRUCTIONS = r"(?:instructions?|prompts?|directives?|programming)"
# "ignore the rules just this once" is a customer asking for an exception; "ignore your rules"
# or "the previous rules" is text addressing the model.
_RULES = r"(?:rules?|guidelines?|directions?|context|constraints?|guardrails?|commands?)"


def _override(qualifier: str, noun: str) -> re.Pattern[str]:
    gap = r"(?:\s+\w+){0,3}?\s+"  # up to three words between: "ignore all of the previous ..."
    return re.compile(rf"\b{_OVERRIDE_VERBS}\b{gap}{qualifier}\b{gap}{noun}\b")


RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("instruction override", _override(_ANY_QUALIFIER, _INSTRUCTIONS)),
    ("instruction override", _override(_MODEL_QUALIFIER, _RULES)),
    (
        "instruction override",
        re.compile(r"\b(?:new|updated|real|actual|true)\s+(?:system\s+)?instructions?\s*(?::|follow|are\b)"),
    ),
    (
        "role reassignment",
        re.compile(
            r"\b(?:you are now (?:an?|my|called|named|no longer|free|unrestricted|dan)\b|"
            r"from now on,? you(?:'re| are| will| must)|pretend (?:to be|you are)|"
            r"act as (?:an? )?(?:unrestricted|unfiltered|jailbroken|evil|different)|"
            r"(?:enter|enable|activate) (?:developer|god|admin|debug|dan) mode|\bdo anything now\b|jailbreak)"
        ),
    ),
    (
        "prompt exfiltration",
        re.compile(
            r"\b(?:reveal|print|show|repeat|output|display|leak|tell me|give me|write out|dump)\b"
            r"(?:\s+\w+){0,3}?\s+"
            r"(?:your|the)\s+(?:full\s+|exact\s+|entire\s+)?(?:system|hidden|initial|original|secret|internal)\s+"
            r"(?:prompt|instructions?|message|rules)"
        ),
    ),
    (
        "chat control token",
        re.compile(
            r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\|>|"
            r"<(?:start|end)_of_turn>|\[/?inst\]|<</?sys>>|^\s*#{2,}\s*(?:system|instruction)s?\b|"
            r"^\s*(?:system|assistant)\s*:\s*(?:you|ignore|new|the)\b",
            re.MULTILINE,
        ),
    ),
)


@dataclass(frozen=True)
class InjectionFinding:
    rule: str
    excerpt: str
    """The matched words, normalised and cut to 80 characters, for logs and error messages."""

    def __str__(self) -> str:
        return f"{self.rule}: {self.excerpt!r}"


def normalise(text: str) -> str:
    """What the rules read: NFKC, no zero-width characters, single spaces, leetspeak undone."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).lower()
    text = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), text)
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


class InjectionScreen:
    """Stateless and cheap (a few regular expressions per text): safe to call on every request."""

    rules = RULES

    def scan(self, text: str) -> list[InjectionFinding]:
        """What in ``text`` looks like an injection attempt, at most one finding per rule."""
        plain = normalise(text)
        found: dict[str, InjectionFinding] = {}
        for rule, pattern in self.rules:
            match = pattern.search(plain)
            if match and rule not in found:
                found[rule] = InjectionFinding(rule, match.group(0).strip()[:80])
        return list(found.values())

    def flags(self, text: str) -> bool:
        return bool(self.scan(text))
