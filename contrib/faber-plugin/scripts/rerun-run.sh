#!/usr/bin/env bash
# Drop-in for the FABER plugin's rerun-run.sh: a new run of the same work with `faber runs rerun`,
# which (unlike the reference) records its workflow_rerun event and lists it in the original's
# child_runs. Prints the reference's JSON, plus original_params and parameter_changes, which the
# plugin's skills read. --work-id changes the work item, as the plugin's SKILL.md documents.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=_faber.sh
. "$HERE/_faber.sh"

RUN_ID=""
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --run-id) need_value "$1" $#; RUN_ID="$2"; shift 2 ;;
        --autonomy|--phases|--work-id) need_value "$1" $#; [ -z "$2" ] || ARGS+=("$1" "$2"); shift 2 ;;
        --base-path) need_value "$1" $#; use_base_path "$2"; shift 2 ;;
        *) echo "Unknown option: $1" >&2; exit 1 ;;
    esac
done
[ -n "$RUN_ID" ] || { echo "Error: --run-id is required" >&2; exit 1; }
ERRORS="$(mktemp)"
trap 'rm -f "$ERRORS"' EXIT
if ! RESULT="$("$FABER" runs rerun "$RUN_ID" "${ARGS[@]}" --json 2>"$ERRORS")"; then
    jq -n --arg run_id "$RUN_ID" --arg error "$(sed -n 's/^faber: error: //p' "$ERRORS" | head -1)" \
        '{status: "error", operation: "rerun-run", original_run_id: $run_id, error: $error}'
    exit 1
fi
NEW_ID="$(jq -r '.new_run_id' <<<"$RESULT")"
ORIGINAL="$("$FABER" runs show "$RUN_ID" --json)"
NEW="$("$FABER" runs show "$NEW_ID" --json)"
jq -n --argjson result "$RESULT" --argjson original "$ORIGINAL" --argjson new "$NEW" --arg base "$(run_base)" '{
    status: "success", operation: "rerun-run", original_run_id: $result.original_run_id,
    new_run_id: $result.new_run_id, work_id: $new.metadata.work_id, target: ($new.metadata.target // ""),
    workflow_id: $new.metadata.workflow_id, autonomy: $new.metadata.autonomy, phases: $new.metadata.phases,
    relationships: {rerun_of: $result.original_run_id}, run_path: "\($base)/\($result.new_run_id)",
    original_params: {work_id: $original.metadata.work_id, autonomy: $original.metadata.autonomy,
                      phases: $original.metadata.phases, params: $original.metadata.params},
    parameter_changes: $result.parameter_changes
}'
