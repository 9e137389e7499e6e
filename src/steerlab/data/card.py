"""The data card: what went into a dataset version, what was removed and why, what leaked.

One dictionary (``card.json``, for tools and the HTML report) rendered as Markdown
(``card.md``, for people). It never contains PII values, only where PII was found and of which
kind, so the card is safe to share even when the data is not.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["render_markdown"]

TOP = 10


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(card: dict[str, Any]) -> str:
    """Markdown for a card built by :func:`steerlab.data.check.check_data`."""
    out = [f"# Data card: {card['task']['name']}", ""]
    out += [
        f"- **Version**: `{card['version']}`",
        f"- **Task kind**: {card['task']['kind']}",
        f"- **Created**: {card['created']}",
        f"- **Checked in**: {card['seconds']:.1f} s",
        "",
        "## Sources",
        "",
        _table(
            ["file", "format", "rows read", "used for"],
            [[s["path"], s["format"], f"{s['rows']:,}", s["role"]] for s in card["sources"]],
        ),
        "",
        "## Splits",
        "",
        _table(
            ["split", "examples"],
            [[name, f"{count:,}"] for name, count in card["splits"].items()]
            + [["total", f"{card['total']:,}"]],
        ),
        "",
        f"Split policy: {card['split_policy']}",
        "",
    ]
    labels = card.get("labels")
    if labels:
        out += [f"## Labels ({labels['count']} in the contract, {labels['present']} present)", ""]
        balance = labels["balance"]
        overall = Counter(
            {label: sum(balance[s].get(label, 0) for s in balance) for label in labels["names"]}
        )
        ranked = overall.most_common()
        shown = ranked if len(ranked) <= 2 * TOP else [*ranked[:TOP], ("…", ""), *ranked[-TOP:]]
        rows = []
        for label, total in shown:
            rows.append([label, total, *[balance[s].get(label, 0) if label != "…" else "" for s in balance]])
        out += [_table(["label", "total", *balance.keys()], rows), ""]
        if labels["missing_from_test"]:
            out += [f"Labels with no test example: {', '.join(labels['missing_from_test'])}", ""]
        out += [f"Imbalance (largest / smallest label, train): {labels['imbalance_ratio']:.1f}", ""]
    out += ["## Cleaning", ""]
    findings = card["findings"]
    if findings["by_check"]:
        out += [
            _table(
                ["check", "found", "dropped", "kept"],
                [[c, v["found"], v["dropped"], v["kept"]] for c, v in sorted(findings["by_check"].items())],
            ),
            "",
        ]
        if findings["examples"]:
            out += ["First findings:", ""]
            out += [
                f"- `{f['where']}` {f['check']}: {f['detail']} ({f['action']})" for f in findings["examples"]
            ]
            out += ["", "All findings are in `findings.jsonl` beside this card.", ""]
    else:
        out += ["No duplicates, conflicts, empty or over-long inputs found.", ""]
    pii = card["pii"]
    out += ["## Personal data (PII)", ""]
    if not pii["scanned"]:
        out += ["Not scanned (cleaning.pii_kinds is empty).", ""]
    elif pii["found"]:
        state = (
            "redacted (replaced by placeholders such as `<EMAIL>`)" if pii["redacted"] else "**NOT redacted**"
        )
        out += [
            _table(["kind", "occurrences"], [[k, v] for k, v in sorted(pii["found"].items())]),
            "",
            f"{pii['examples_with_pii']:,} examples contained PII; it was {state}.",
            "",
        ]
    else:
        out += ["No PII found.", ""]
    out += ["## Leakage", ""]
    leakage = card["leakage"]
    if leakage:
        out += [
            _table(
                ["test vs", "checked", "exact", "near", "action"],
                [[r["against"], f"{r['checked']:,}", r["exact"], r["near"], r["action"]] for r in leakage],
            ),
            "",
        ]
        for report in leakage:
            for example in report["examples"][:5]:
                extra = f" (Jaccard {example['jaccard']})" if "jaccard" in example else ""
                out.append(f"- `{example['test']}` ~ `{example['other']}` {example['kind']}{extra}")
        out.append("")
    feedback = card.get("feedback")
    if feedback:
        # A feedback version (steerlab.serving.feedback) says what it was built from, so nobody
        # mistakes its extra training rows for a change in the raw data.
        why = ", ".join(f"{check} {n}" for check, n in sorted(feedback["skipped_why"].items()))
        out += [
            "## Lineage",
            "",
            f"Built from `{feedback['base']}` plus {feedback['corrections']:,} reviewers' corrections "
            f"of served requests: {feedback['added']:,} added to train, {feedback['skipped']:,} skipped"
            + (f" ({why})" if why else "")
            + ".",
            "",
            feedback["note"],
            "",
            f"Reviewers: {feedback['reviewers']}; each added example names its request and reviewer "
            "in `train.jsonl` (`meta.feedback`).",
            "",
        ]
    out += ["## Settings", "", "```json", _json(card["settings"]), "```", ""]
    return "\n".join(out)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True)
