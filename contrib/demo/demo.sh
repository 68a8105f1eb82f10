#!/usr/bin/env bash
# faber-host's main job, end to end on the local-files default: a workflow of shell steps
# (contrib/workflows/widget-release.json) runs as a tracked run; its build step fails; we fix the
# code and resume the same run, which continues at the failed step; then we re-run it with a changed
# parameter, and show both runs' timelines and their link. `make demo` runs this with .venv on PATH.
set -euo pipefail

contrib=$(cd "$(dirname "$0")/.." && pwd)
workdir=$(mktemp -d "${TMPDIR:-/tmp}/faber-demo.XXXXXX")
trap 'rm -rf "$workdir"' EXIT
cd "$workdir"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
note() { printf '\n\033[36m# %s\033[0m\n' "$*"; }
newest_run() { faber runs list --limit 1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["run_id"])'; }

say faber init --org acme --project widget-service
cp "$contrib/workflows/widget-release.json" .fractary/plugins/faber/workflows/
mkdir -p src
cat > src/widgets.py <<'PY'
"""The widgets module the demo workflow builds: a paginated listing, with a self-test."""
WIDGETS = [f"widget-{number}" for number in range(1, 24)]


def page(number, size=10):
    start = (number - 1) * size
    return WIDGETS[start:start + size]


if __name__ == "__main__":
    assert page(1)[0] == "widget-1" and len(page(3)) == 3, "pagination is wrong"
    print("self-test passed:", page(3))
    print("oops"
PY

note "1. A run of widget-release for work item 123. The build step will fail: src/widgets.py has a syntax error."
status=0
say faber run widget-release --work-id 123 --param version=1.0.0 || status=$?
[ "$status" -eq 1 ] || { echo "expected the first run to fail with exit code 1, got $status" >&2; exit 1; }
run=$(newest_run)
short=${run##*/}; short=${short:0:8}

note "What the run did, and where it will continue (no side effects):"
say faber runs resume-context "$short"

note "2. Fix the code, then resume the same run: frame and architect are not run again."
sed -i 's/    print("oops"$/    print("ok")/' src/widgets.py
say faber run --resume "$short"

note "3. Re-run the same work as a new run, with a changed parameter."
say faber run --rerun "$short" --param version=1.1.0
rerun=$(newest_run)
rerun_short=${rerun##*/}; rerun_short=${rerun_short:0:8}

note "4. The timelines: the first run failed at build:compile, then resumed there under the same run id."
say faber events "$short"
note "The re-run starts with workflow_rerun, which records the change {version: {from: 1.0.0, to: 1.1.0}}."
say faber events "$rerun_short"
note "Their link, recorded on both runs:"
say faber runs show "$rerun_short"
faber runs show "$short" | grep -E '^(run|status|re-run):'
say faber runs verify "$short"
say faber runs verify "$rerun_short"
echo
echo "The products:"
find dist specs -type f | sort
