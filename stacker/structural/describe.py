"""One-line accounts of what each side did to a sequence, for the conflicts log."""

from __future__ import annotations

from stacker.structural.sequence import Item, Plan


def both_contributed(plan: Plan) -> bool:
    did = {side: bool(plan.inserted[side] or plan.deleted[side] or plan.changed[side]) for side in ("ours", "theirs")}
    return (did["ours"] and did["theirs"]) or bool(plan.identical)


def summarize(plan: Plan, items: dict[str, list[Item]]) -> str:
    parts = []
    for side in ("ours", "theirs"):
        acts = []
        for verb, indexes, source in (("added", plan.inserted[side], items[side]),
                                      ("changed", plan.changed[side], items["base"]),
                                      ("removed", plan.deleted[side], items["base"])):
            if indexes:
                names = ", ".join(f"`{short(source[i].name)}`" for i in dict.fromkeys(indexes))
                acts.append(f"{verb} {names}")
        if acts:
            parts.append(f"{side} " + " and ".join(acts))
    if plan.identical:
        parts.append("both made " + ", ".join(f"`{short(items['ours'][i].name)}`" for i in plan.identical))
    return "; ".join(parts)


def short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


