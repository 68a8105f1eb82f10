#!/usr/bin/env bash
# The main job of faber-host, end to end on the local-files default: a project in a temporary folder,
# a run, a realistic sequence of events (workflow, phases, steps, an artifact, a step error), and the
# run as `faber` shows it. `make demo` runs this with the project's .venv on PATH.
set -euo pipefail

workdir=$(mktemp -d "${TMPDIR:-/tmp}/faber-demo.XXXXXX")
trap 'rm -rf "$workdir"' EXIT
cd "$workdir"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

say faber init --org acme --project widget-service
run=$(faber runs new --work-id 123 --param ticket=WIDGET-123)
echo "new run: $run"

emit() { faber event emit "$run" "$@" >/dev/null; }
emit workflow_start --status started --message "Starting FABER workflow for issue #123"
emit phase_start --phase frame --status started
emit step_start --phase frame --step fetch-work --message "Fetching issue #123"
emit step_complete --phase frame --step fetch-work --duration-ms 1840 \
  --data '{"metadata": {"issue_title": "Add pagination to /widgets"}}'
emit phase_complete --phase frame --duration-ms 2310
emit phase_start --phase architect
emit step_start --phase architect --step generate-spec
emit artifact_create --phase architect --step generate-spec --message "Specification written" \
  --data '{"artifacts": [{"type": "spec", "name": "WORK-00123-pagination.md", "path": "specs/WORK-00123-pagination.md"}]}'
emit step_complete --phase architect --step generate-spec --duration-ms 45210
emit phase_complete --phase architect --duration-ms 45900
emit phase_start --phase build
emit step_start --phase build --step implement --message "Implementing spec WORK-00123"
emit step_error --phase build --step implement --status failed --message "Build failed: type errors" \
  --data '{"error": {"code": "BUILD_FAILED", "message": "tsc exited with code 2 (3 errors)", "recoverable": true}}'
emit workflow_error --phase build --status failed \
  --data '{"error": {"code": "STEP_FAILED", "message": "build:implement failed", "recoverable": true}}'

say faber events "${run##*/}"
say faber runs show "${run##*/}"
say faber runs list
say faber backends
say faber doctor
echo
echo "The run's files:"
find ".fractary/plugins/faber/runs" -type f | sort
