"""The "manual merge needed" part of the conflicts log, from an `AdvanceReport`.

Written for the maintainer who gets it in the morning: which base the bundle is on and how far
behind, the one upstream commit that broke the stack, where exactly it collides (or which check
fails), and what to run next.
"""

from __future__ import annotations

from stacker.advance import AdvanceReport
from stacker.build import BuildResult


def advance_json(report: AdvanceReport) -> dict:
    bad = report.first_bad
    return {
        "requested": {"name": report.requested_name, "sha": report.requested},
        "locked_base": report.locked_base,
        "built_on": report.built_on,
        "fell_back": report.fell_back,
        "behind": report.behind,
        "first_bad": None if bad is None else {"sha": bad.sha, "subject": bad.subject, "author": bad.author,
                                               "date": bad.date, "files": list(bad.files)},
        "breakage": None if report.breakage is None else _breakage_json(report.breakage),
        "probes": [{"base": p.base, "status": p.status, "stopped_at": p.stopped_at} for p in report.probes],
        "note": report.note,
    }


def _breakage_json(result: BuildResult) -> dict:
    stopped = result.steps[-1] if result.steps and result.status != "ok" else None
    return {
        "status": result.status,
        "step": stopped.step.number if stopped else None,
        "step_name": stopped.step.name if stopped else None,
        "conflicts": [{"path": u.path, "kind": u.kind, "qualname": u.qualname, "lines": list(u.lines),
                       "ours": u.hunk.ours if u.hunk else None, "theirs": u.hunk.theirs if u.hunk else None}
                      for u in (stopped.unresolved if stopped else [])],
        "findings": [str(f) for f in (stopped.findings if stopped else [])],
        "verify": [{"name": v.result.name, "ok": v.result.ok, "summary": v.result.summary(),
                    "first_failing_step": v.first_failing_step} for v in result.verify if not v.result.ok],
    }


def advance_markdown(report: AdvanceReport, conflict_worktree: str | None) -> list[str]:
    name = report.requested_name
    if report.built_on == report.requested:
        return ["## Base", "", f"Built on `{name}` itself (`{report.requested[:12]}`); no fallback was needed.", ""]
    if report.built_on is None:
        out = ["## Nothing builds", "",
               f"The stack does not build on `{name}` (`{report.requested[:12]}`), and there is no older base to "
               f"publish: {report.note or 'every base tried failed'}. The branch was not moved.", ""]
        return out + _probes(report)
    out = ["## Manual merge needed", "",
           f"`{name}` is at `{report.requested[:12]}`, but the stack no longer builds there. This bundle is built on "
           f"`{report.built_on[:12]}`, {report.behind} first-parent commit(s) behind `{name}`: the newest base on "
           "which every step applies and every check passes.", ""]
    bad = report.first_bad
    if bad is not None:
        out += ["The first upstream commit that breaks it:", "", "```",
                f"{bad.sha[:12]} {bad.subject}", f"{bad.author}, {bad.date}", "```", ""]
    breakage = report.breakage
    if breakage is not None:
        out += _breakage_markdown(breakage, bad.files if bad else ())
    if breakage is not None and breakage.status == "conflict" and conflict_worktree:
        out += [f"The conflict is materialized in `{conflict_worktree}`: resolve it there and run "
                f"`stacker resolve` (it records the resolution and builds on `{bad.sha[:12] if bad else ''}`), "
                "then `stacker build --advance` again.", ""]
    return out + _probes(report)


def _breakage_markdown(result: BuildResult, touched: tuple[str, ...]) -> list[str]:
    stopped = result.steps[-1] if result.steps and result.status != "ok" else None
    out: list[str] = []
    if result.status == "conflict" and stopped is not None:
        out += [f"Applying {stopped.step.label} on it conflicts in:", ""]
        for u in stopped.unresolved:
            lines = f" lines {u.lines[0]}–{u.lines[1]}" if u.lines[0] else ""
            where = f" in `{u.qualname}`" if u.qualname else ""
            mark = " — a file this commit changes" if u.path in touched else ""
            out.append(f"- `{u.path}`{lines}{where} ({u.kind}){mark}")
            if u.hunk:
                out += _side("upstream + earlier steps", u.hunk.ours) + _side(f"#{u.pr}", u.hunk.theirs)
        out.append("")
    elif result.status == "verify-failed" and stopped is not None and stopped.findings:
        out += [f"Applying {stopped.step.label} on it leaves a broken file:", ""]
        out += [f"- `{f}`" for f in stopped.findings] + [""]
    elif result.status == "verify-failed":
        out += ["Every step applies on it, but a check fails:", ""]
        for v in result.verify:
            if not v.result.ok:
                step = v.first_failing_step  # a PR number or a patch file, as report.step_ref names it
                first = f" (first fails at step {'#' if isinstance(step, int) else 'patch '}{step})" if step else ""
                out.append(f"- `{v.result.name}`: {v.result.summary()}{first}")
        out.append("")
    return out


def _side(label: str, text: str, limit: int = 12) -> list[str]:
    lines = text.splitlines()
    body = lines[:limit] + ([f"… {len(lines) - limit} more line(s)"] if len(lines) > limit else [])
    return [f"  {label}:", "  ```", *(f"  {line}" for line in body), "  ```"]


def _probes(report: AdvanceReport) -> list[str]:
    position = {sha: i for i, sha in enumerate(report.history)}  # probes ran in bisection order
    out = ["Bases tried (newest first):", "", "| base | result |", "|---|---|"]
    for probe in sorted(report.probes, key=lambda p: -position.get(p.base, len(position))):
        where = f" in step {probe.stopped_at}" if probe.stopped_at else ""
        tag = f" (`{report.requested_name}`)" if probe.base == report.requested else ""
        tag += " (locked base)" if probe.base == report.locked_base else ""
        out.append(f"| `{probe.base[:12]}`{tag} | {probe.status}{where} |")
    return out + [""]
