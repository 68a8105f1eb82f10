#!/usr/bin/env bash
# Drop-in for the FABER plugin's resume-run.sh: where a run stands and where to continue, from
# `faber runs resume-context` (read-only, as the reference), in the reference's JSON. Beside the
# reference's keys it gives the ones the plugin's faber-director-legacy skill reads (resume_from,
# top-level completed_phases) and faber's whole context (faber_context).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=_faber.sh
. "$HERE/_faber.sh"

RUN_ID="" STEP=""
while [ $# -gt 0 ]; do
    case "$1" in
        --run-id) need_value "$1" $#; RUN_ID="$2"; shift 2 ;;
        --step) need_value "$1" $#; STEP="$2"; shift 2 ;;
        --base-path) need_value "$1" $#; use_base_path "$2"; shift 2 ;;
        *) echo "Unknown option: $1" >&2; exit 1 ;;
    esac
done
[ -n "$RUN_ID" ] || { echo "Error: --run-id is required" >&2; exit 1; }

error() {  # MESSAGE: the reference's error document, on stdout, exit 1
    jq -n --arg run_id "$RUN_ID" --arg error "$1" '{status: "error", operation: "resume-run", run_id: $run_id,
                                                    error: $error}'
    exit 1
}
PHASE="" AT=""
if [ -n "$STEP" ]; then  # the caller's choice, as the reference takes it: phase:step, a bare name for both
    PHASE="${STEP%%:*}"
    AT="$(cut -d: -f2 <<<"$STEP")"
    case "$PHASE" in frame|architect|build|evaluate|release) ;; *) error "Invalid phase in step_id: $PHASE" ;; esac
fi
ERRORS="$(mktemp)"
trap 'rm -f "$ERRORS"' EXIT
CONTEXT="$("$FABER" runs resume-context "$RUN_ID" --json 2>"$ERRORS")" || error "$(sed -n 's/^faber: error: //p' "$ERRORS" | head -1)"
RECORD="$("$FABER" runs show "$RUN_ID" --json 2>/dev/null)" || error "run not found: $RUN_ID"
STATUS="$(jq -r '.status' <<<"$CONTEXT")"
case "$STATUS" in  # the reference's rule: a finished run is re-run, not resumed
    completed|cancelled) error "Cannot resume a $STATUS run. Use --rerun to start a new run." ;;
esac
jq -e '.resumable' <<<"$CONTEXT" >/dev/null || error "$(jq -r '.reason // "the run cannot be resumed"' <<<"$CONTEXT")"
jq -n --argjson context "$CONTEXT" --argjson record "$RECORD" --arg phase "$PHASE" --arg step "$AT" '{
    status: "success", operation: "resume-run", run_id: $context.run_id, work_id: $context.work_id,
    run_status: $context.status,
    resume_context: {
        completed_phases: $context.completed_phases,
        current_phase: (if $phase != "" then $phase else ($context.resume_from.phase // "frame") end),
        current_step: (if $phase != "" then $step else ($context.resume_from.step // "") end),
        artifacts: ($record.state.artifacts | with_entries(.value |= (.path // .url // .name // .))),
        event_count: $context.last_event_id
    },
    metadata: $record.metadata,
    resumable: true, resume_from: $context.resume_from, completed_phases: $context.completed_phases,
    faber_context: $context
}'
