"""`make audit`: pip-audit of the installed (pinned) dependencies, and which mode it could run in.

pip-audit asks PyPI's JSON API (``/pypi/<name>/<version>/json``, which carries the advisories) about
every distribution in the venv (perflab itself, editable, is skipped). The result line says what
happened:

- ``online``: the advisory service answered; known vulnerabilities fail the target (exit 1);
- ``INCOMPLETE``: the service was reachable but could not answer for some distributions (e.g. an
  index or proxy without the per-version JSON API): they are listed as not audited, exit 0;
- ``SKIPPED (offline)``: the service could not be reached at all: exit 0, the build goes on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NETWORK_ERRORS = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "timed out",
    "Temporary failure",
)


def main() -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    command = [str(pip_audit), "--skip-editable", "--progress-spinner", "off", "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        if any(marker in done.stderr for marker in NETWORK_ERRORS):
            print("pip-audit SKIPPED (offline: the PyPI advisory service is unreachable)")
            print("  " + done.stderr.strip().splitlines()[-1][:300])
            return 0
        print(f"pip-audit failed (exit {done.returncode}):\n{done.stderr.strip()[-2000:]}")
        return done.returncode or 1
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason") and d.get("name") != "perflab"]
    audited = [d for d in dependencies if "vulns" in d]
    vulnerable = [d for d in audited if d["vulns"]]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    mode = "online, PyPI advisory service"
    if skipped and not audited:
        reason = skipped[0]["skip_reason"]
        print(
            f"pip-audit INCOMPLETE ({mode} reachable, but it answered for none of {len(skipped)} "
            f"distributions: e.g. {reason})"
        )
        return 1 if vulnerable else 0
    summary = f"{len(audited)} distributions audited, {len(vulnerable)} with known vulnerabilities"
    if skipped:
        names = ", ".join(f"{d['name']} {d.get('version', '')}".strip() for d in skipped)
        summary += f"; {len(skipped)} not audited ({names})"
    print(f"pip-audit ({mode}): {summary}")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
