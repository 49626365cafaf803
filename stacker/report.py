"""The conflicts log: BUNDLE.md for people, bundle.json for machines, from a `BuildResult`.

Modelled on what a maintainer writes by hand when stacking PRs: the branch and its commits, one
entry per conflict or fix with what each side did and how it was resolved, what was resolved
automatically, what can be retired, and — when the build stopped — exactly where and why.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from stacker.advance_report import advance_json, advance_markdown
from stacker.apply import StepResult
from stacker.build import BuildResult
from stacker.filemerge import LayerAction
from stacker.resolution import Resolution
from stacker.reuse import ReusedStep, outcome

_MAX_SNIPPET_LINES = 14


def bundle_json(result: BuildResult) -> dict:
    plan = result.plan
    return {
        "status": result.status,
        "stack": result.stack.name,
        "repo": str(result.workspace.repo_path),
        "branch": result.stack.branch,
        "published": result.published,
        "previous_head": result.previous_head,
        "head": result.head,
        "base": {"name": plan.upstream.base_name, "sha": plan.base} if plan else None,
        "upstream": plan.upstream.url if plan else None,
        "conflict_worktree": str(result.conflict_worktree) if result.conflict_worktree else None,
        "steps": [_step_json(s) for s in result.steps],
        "resolutions": _resolution_status(result),
        "stale_recordings": [{"key": r.key, "path": r.path, "qualname": r.qualname} for r in result.stale_recordings],
        "verify": [{"name": v.result.name, "ok": v.result.ok, "seconds": v.result.seconds,
                    "summary": v.result.summary(), "first_failing_step": v.first_failing_step,
                    "first_failing_resolutions": v.first_failing_resolutions, "cached": v.cached}
                   for v in result.verify],
        "unchanged": result.unchanged,
        "reused": [s.step.number for s in result.reused],
        "advance": _advance_json(result),
    }


def _advance_json(result: BuildResult) -> dict | None:
    return advance_json(result.advance) if result.advance is not None else None


def _step_json(s: StepResult) -> dict:
    step = s.step
    entry = {
        "number": step.number,
        "includes": [i.number for i in step.includes],
        "stacked_on": step.stacked_on,
        "head": step.head,
        "fork": step.fork,
        "commit": s.commit,
        "status": s.status,
        "resolved": [_action_json(a) for f in s.files for a in f.actions],
        "transforms": [asdict(t) for t in s.transforms],
        "conflicts": [{"path": u.path, "kind": u.kind, "qualname": u.qualname, "lines": list(u.lines),
                       "ours": u.hunk.ours if u.hunk else None, "theirs": u.hunk.theirs if u.hunk else None,
                       "base": u.hunk.base if u.hunk else None, "message": u.message,
                       "other_side": [{"sha": b.sha, "subject": b.subject} for b in u.other_side]}
                      for u in s.unresolved],
        "findings": [str(f) for f in s.findings],
        "initial_conflicts": sum(f.initial_conflicts for f in s.files),
        "input_key": s.input_key,
        "outcome": outcome(s),
        "kind": "patch" if step.patch else "pr",
        "patch": _patch_json(step) if step.patch else None,
    }
    if isinstance(s, ReusedStep):  # reused as it was: keep what the build that made it recorded
        entry.update({k: s.carried[k] for k in ("resolved", "initial_conflicts") if k in s.carried})
        entry["resolutions"] = s.resolutions_applied
    return entry


def _patch_json(step) -> dict:
    source = step.patch
    return {"file": source.name, "sha256": source.patch.sha256, "after": source.after, "mode": source.mode,
            "mode_reason": source.mode_reason, "subject": source.subject, "stack_line": source.entry.line}


def _action_json(a: LayerAction) -> dict:
    return {"layer": a.layer, "path": a.path, "location": a.location, "detail": a.detail,
            "resolution": a.resolution_id, "hunks": len(a.hunks)}


def _resolution_status(result: BuildResult) -> list[dict]:
    """Each codified resolution's outcome over the whole build (applied wins over the rest)."""
    out = []
    for resolution in result.resolutions:
        events = []
        for s in result.steps:
            for f in s.files:
                for a in f.actions:
                    if a.resolution_id == resolution.id:
                        events.append(("applied", s.step.number, f"claimed a conflict in {a.path}::{a.location}"))
            for t in s.transforms:
                if t.resolution_id == resolution.id:
                    events.append((t.status, s.step.number, t.reason))
            if isinstance(s, ReusedStep) and resolution.id in s.trailer_resolutions:
                events.append(("applied", s.step.number, "applied when this step was built (reused unchanged)"))
        status, step, reason = _summarize(events, resolution, result)
        applied = [{"step": n, "reason": why} for state, n, why in events if state == "applied"]
        out.append({"id": resolution.id, "kind": resolution.kind, "tag": resolution.tag, "title": resolution.title,
                    "location": resolution.location, "prs": list(resolution.prs), "status": status,
                    "step": step, "reason": reason, "applied": applied})
    return out


def _summarize(events: list[tuple[str, int, str]], resolution: Resolution, result: BuildResult):
    for wanted in ("applied", "already satisfied", "not applicable"):
        hits = [e for e in events if e[0] == wanted]
        if hits:
            return hits[0] if wanted == "applied" else hits[-1]
    stack_prs = set(result.stack.pr_numbers)
    missing = [n for n in resolution.prs if n not in stack_prs]
    if missing:
        return "not applicable", None, "not in the stack: " + ", ".join(f"#{n}" for n in missing)
    return "not applicable", None, "its conflict did not occur"


def bundle_markdown(result: BuildResult) -> str:
    plan = result.plan
    stack = result.stack
    out: list[str] = [f"# Bundle `{stack.name}`", ""]
    if plan:
        out.append(f"Branch `{stack.branch}` — base `{plan.upstream.base_name}` at `{plan.base[:12]}` "
                   f"from {plan.upstream.url}.")
    if result.status == "ok" and result.unchanged:
        out.append(f"**Status: unchanged** at `{(result.head or '')[:12]}` — nothing moved since it was published "
                   f"({len(result.reused)} of {len(result.steps)} steps reused); nothing republished.")
    elif result.status == "ok":
        state = "published" if result.published else "built, not published"
        out.append(f"**Status: {state}** at `{(result.head or '')[:12]}` "
                   f"(previously `{(result.previous_head or 'absent')[:12]}`).")
    else:
        stopped = next((s for s in result.steps if s.status in ("conflict", "verify-failed")), None)
        where = f" in step {stopped.step.name}" if stopped else ""
        out.append(f"**Status: stopped ({result.status}{where})** — the branch was not moved.")
    out.append("")
    if result.advance is not None:
        conflict = str(result.conflict_worktree) if result.conflict_worktree else None
        out += advance_markdown(result.advance, conflict)
    out += _commits_table(result)
    out += _stopped_section(result)
    out += _fixes_section(result)
    out += _automatic_section(result)
    out += _retire_section(result)
    out += _verify_section(result)
    return "\n".join(out).rstrip() + "\n"


def _commits_table(result: BuildResult) -> list[str]:
    out = ["## Commits", "", "| step | PR | status | commit | PR head | fork | behind base | resolutions |",
           "|---|---|---|---|---|---|---|---|"]
    for i, s in enumerate(result.steps, 1):
        step = s.step
        label = step.label + (f", stacked on #{step.stacked_on}" if step.stacked_on else "")
        out.append(f"| {i} | {label} | {s.status} | `{(s.commit or '—')[:12]}` | `{step.head[:12]}` | "
                   f"`{step.fork[:12]}` | {step.behind} | {', '.join(s.resolutions_applied) or '—'} |")
    if result.plan:
        for step in result.plan.steps[len(result.steps):]:
            out.append(f"| – | {step.label} | not reached | — | `{step.head[:12] or '—'}` | `{step.fork[:12] or '—'}` | "
                       f"{step.behind} | — |")
    warnings = [w for s in result.steps for w in s.step.warnings]
    out.append("")
    for w in warnings:
        out.append(f"> warning: {w}")
    if warnings:
        out.append("")
    return out


def _fixes_section(result: BuildResult) -> list[str]:
    statuses = {r["id"]: r for r in _resolution_status(result)}
    if not result.resolutions:
        return []
    out = ["## Conflicts and fixes", ""]
    for resolution in result.resolutions:
        st = statuses[resolution.id]
        where = f" in step #{st['step']}" if st["step"] else ""
        out.append(f"### {resolution.tag} {resolution.title}")
        out.append("")
        out.append("- **Location:** " + ", ".join(f"`{where}`" for where in resolution.locations) + "  ")
        out.append(f"- **Resolution** `{resolution.id}`: **{st['status']}**{where} — {st['reason']}")
        if len(st["applied"]) > 1:  # a resolution that acts in several steps (claims, then transforms): each one
            out.append("- **Applied in each step:**")
            out += [f"  - step #{a['step']}: {a['reason']}" for a in st["applied"]]
        out.append("- **What each side did:**")
        for side, did in resolution.sides.items():
            out.append(f"  - {side}: {did}")
        out.append(f"- **How it is resolved:** {resolution.resolution}")
        out.append(f"- **Backport:** {resolution.backport}")
        out.append("")
    return out


def _automatic_section(result: BuildResult) -> list[str]:
    actions = [(s.step.name, a) for s in result.steps for f in s.files for a in f.actions
               if a.layer in ("structural", "recorded", "git")]
    already = [s for s in result.steps if outcome(s) == "already-applied"]
    if not actions and not already:
        return []
    out = ["## Resolved automatically", ""]
    counts: dict[tuple[float, str, str], int] = {}
    for s in result.steps:
        for f in s.files:
            for a in f.actions:
                key = (s.step.number or float("inf"), s.step.name, a.layer)  # PRs by number, patches last
                counts[key] = counts.get(key, 0) + max(1, len(a.hunks))
    if counts:
        out += ["| step | layer | hunks |", "|---|---|---|"]
        out += [f"| {name} | {layer} | {c} |" for (_, name, layer), c in sorted(counts.items())]
        out.append("")
    for name, action in actions:
        if action.layer == "git":
            continue
        out.append(f"- {name} `{action.path}::{action.location}` — {action.layer}: {action.detail}")
        if action.hunks:
            out += _before_after(action)
    for s in already:
        if s.step.patch:
            out.append(f"- {s.step.name} is already in the bundle: its change is there at this step; skipped — "
                       "it can be dropped.")
            continue
        out.append(f"- PR {s.step.label} is already applied on this base: its change is in the bundle "
                   f"({'its head is in the base' if s.step.contained else 'the merge changed nothing'}); skipped.")
    out.append("")
    return out


def _before_after(action: LayerAction) -> list[str]:
    hunk = action.hunks[0]
    body = ["<details><summary>before / after</summary>", "", "```diff"]
    for prefix, text in (("-", hunk.ours), ("-", hunk.theirs)):
        body += [f"{prefix}{line}" for line in text.splitlines()[:_MAX_SNIPPET_LINES]]
        body.append("-…" if len(text.splitlines()) > _MAX_SNIPPET_LINES else "")
    body += [f"+{line}" for line in action.result.splitlines()[:_MAX_SNIPPET_LINES]]
    body += ["```", "", "</details>", ""]
    return ["  " + line if line else "" for line in body if line is not None]


def _retire_section(result: BuildResult) -> list[str]:
    statuses = _resolution_status(result)
    satisfied = [r for r in statuses if r["status"] == "already satisfied"]
    droppable = [s.step.patch for s in result.steps if s.step.patch and s.status == "already-applied"]
    if not satisfied and not result.stale_recordings and not droppable:
        return []
    out = ["## Can be retired", ""]
    for patch in droppable:
        out.append(f"- patch `{patch.name}` ({result.stack.path.name}:{patch.entry.line}): already in the bundle — "
                   "can be dropped")
    for r in satisfied:
        out.append(f"- resolution `{r['id']}` ({r['title']}): already satisfied — {r['reason']}")
    for rec in result.stale_recordings:
        out.append(f"- recorded resolution `{rec.key[:12]}` (`{rec.path}::{rec.qualname}`): stale, matched no "
                   "conflict in this build")
    out.append("")
    return out


def _stopped_section(result: BuildResult) -> list[str]:
    out: list[str] = []
    for s in result.steps:
        if s.status == "conflict":
            out += [f"## Unresolved conflicts in step {s.step.name}", ""]
            if result.conflict_worktree:
                out += [f"The conflicted files are materialized with markers in `{result.conflict_worktree}`. "
                        "Resolve them there and run `stacker resolve`.", ""]
            for u in s.unresolved:
                where = f" in `{u.qualname}`" if u.qualname else ""
                lines = f" lines {u.lines[0]}–{u.lines[1]}" if u.lines[0] else ""
                out.append(f"### `{u.path}`{lines}{where} ({u.kind})")
                out.append("")
                if u.message:
                    out += [u.message, ""]
                if u.other_side:
                    out.append("Bundle side last touched by: " + "; ".join(
                        f"`{b.sha[:12]}` {b.subject}" for b in u.other_side))
                    out.append("")
                if u.hunk:
                    out += _sides(u.hunk.ours, "bundle"), _sides(u.hunk.theirs, s.step.name)
                    out.append("")
        if s.status == "verify-failed":
            out += [f"## Verification failed in step {s.step.name}", ""]
            out += [f"- `{f}`" for f in s.findings]
            layers = sorted({f"{a.layer}" + (f" ({a.resolution_id})" if a.resolution_id else "")
                             for fm in s.files for a in fm.actions})
            out += ["", "Layers that produced code in this step: " + (", ".join(layers) or "git only"), ""]
    return out


def _sides(text: str, label: str) -> str:
    lines = text.splitlines()
    shown = "\n".join(lines[:40]) + ("\n…" if len(lines) > 40 else "")
    return f"{label}:\n```python\n{shown}\n```"


def _verify_section(result: BuildResult) -> list[str]:
    if not result.verify:
        return []
    out = ["## Verification", "", "| check | result | seconds | detail |", "|---|---|---|---|"]
    for v in result.verify:
        detail = v.result.summary().replace("|", "\\|")
        if v.first_failing_step:
            detail += f" (first fails at step {step_ref(v.first_failing_step)}"
            if v.first_failing_resolutions:
                detail += ", where resolutions " + ", ".join(f"`{r}`" for r in v.first_failing_resolutions)
                detail += " were applied"
            detail += ")"
        state = "ok (cached)" if v.cached else "ok" if v.result.ok else "FAILED"
        out.append(f"| {v.result.name} | {state} | {v.result.seconds} | {detail} |")
    out.append("")
    return out


def step_ref(number_or_patch: int | str) -> str:
    """A step as `VerifyOutcome.first_failing_step` names it: a PR number, or a patch file."""
    return f"#{number_or_patch}" if isinstance(number_or_patch, int) else f"patch {number_or_patch}"


def write_reports(result: BuildResult) -> tuple[Path, Path]:
    ws = result.workspace
    ws.root.mkdir(parents=True, exist_ok=True)
    ws.report_markdown.write_text(bundle_markdown(result), encoding="utf-8")
    ws.report_json.write_text(json.dumps(bundle_json(result), indent=2) + "\n", encoding="utf-8")
    return ws.report_markdown, ws.report_json
