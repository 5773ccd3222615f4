"""``ccendpoint doctor``: find what is wrong on this machine and say how to fix it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ccendpoint.commands import common
from ccendpoint.commands.layout import bullet, progress
from ccendpoint.commands.options import EditionOpt, FileOpt, ProfileOpt, UserDataOpt, file_request
from ccendpoint.doctor.drift_checks import check_drift
from ccendpoint.doctor.findings import Finding, exit_code, warning
from ccendpoint.doctor.live import run_live
from ccendpoint.doctor.machine import Gathered, gather
from ccendpoint.doctor.report import bundle, render
from ccendpoint.errors import CcendpointError

ICONS = {"ok": ("✓", "green"), "warning": ("!", "yellow"), "error": ("✗", "red")}


def doctor(
    ctx: typer.Context,
    edition: EditionOpt = None,
    profile: ProfileOpt = None,
    user_data_dir: UserDataOpt = None,
    file: FileOpt = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Also send three real requests per model and compare each provider's served models with the "
            "catalog (key from the environment).",
        ),
    ] = False,
    models: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--models", help="With --live: only these model ids or providers (comma-separated)."),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="With --live: seconds per request.", min=1)] = 120.0,
    report: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--report", help="Write a shareable report with every secret masked (.json or .md).", metavar="FILE"
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also list the checks that passed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON on stdout.")] = False,
) -> None:
    """Check VS Code's chatLanguageModels.json, keys, the catalog, the proxies, settings and logs.

    Every finding says what was found, why it matters and the exact fix. Exit code 0 when
    nothing is an error, 1 otherwise.

    Example: ccendpoint doctor

    Example: KIMI_API_KEY=... ccendpoint doctor --live --models kimi-k2.6

    Example: ccendpoint doctor --report report.md
    """
    cat = common.catalog(ctx)
    request = file_request(edition, profile, user_data_dir, file)
    with progress("Checking VS Code's files, the proxies, settings and logs…"):
        found = gather(request, cat)
    findings = list(found.findings)
    if live:
        if found.document is None:
            findings.append(_no_live())
        else:
            only = [part.strip() for part in (models or "").split(",") if part.strip()]
            with progress("Sending live requests to each model (up to three per model)…"):
                findings += run_live(found.document, cat, only=only, timeout=timeout)
            with progress("Asking each provider which models it serves…"):
                findings += check_drift(found.document, cat, only=only, timeout=timeout)
    if report is not None:
        _write_report(report, findings, found)
    if as_json:
        common.print_json(
            {
                "file": found.location.path if found.location else None,
                "vscode": found.version,
                "exit_code": exit_code(findings),
                "findings": [f.as_dict() for f in findings],
            }
        )
    else:
        _print(findings, verbose)
    raise typer.Exit(exit_code(findings))


def _no_live() -> Finding:
    return warning("live.none", "Live check skipped: no readable config file.", "", "Fix the file first.")


def _write_report(path: Path, findings: list[Finding], found: Gathered) -> None:
    data = bundle(
        findings,
        config_path=found.location.path if found.location else None,
        config_text=found.text,
        log_lines=found.log_lines,
        vscode_version=found.version,
    )
    try:
        path.write_text(render(data, as_json=path.suffix.lower() == ".json"), "utf-8")
    except OSError as exc:
        raise CcendpointError(
            f"Cannot write the report to {path}: {exc.strerror}.", hint="Pick another path."
        ) from None
    common.err_console().print(f"Report written to {path} (secrets masked).", markup=False)


def _print(findings: list[Finding], verbose: bool) -> None:
    out = common.console()
    shown = [f for f in findings if verbose or f.level != "ok"]
    counts = {level: sum(1 for f in findings if f.level == level) for level in ("ok", "warning", "error")}
    for f in sorted(shown, key=lambda f: {"error": 0, "warning": 1, "ok": 2}[f.level]):
        icon, style = ICONS[f.level]
        out.print(bullet(f.what, 0, f"{icon} ", marker_style=style))
        if f.why:
            out.print(bullet(f.why, 4, "why: ", marker_style="dim"))
        if f.fix:
            out.print(bullet(f.fix, 4, "fix: ", marker_style="bold"))
    hidden = "" if verbose or not counts["ok"] else " (--verbose lists the passed checks)"
    out.print(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['ok']} check(s) passed{hidden}.")
