#!/usr/bin/env bash
# Drop-in for the FABER plugin's emit-event.sh: the same flags, stdout and exit codes, the event
# recorded by `faber event emit` (durably, under the run's lock, with its state brought up to date).
#
# Beyond the reference script, the call shapes the plugin's agents use are accepted where they map
# unambiguously onto a faber event: --data (free-form JSON, kept as the event's metadata), --duration
# (milliseconds, as --duration-ms), --skill_name / --skill_config / --command_name (kept in metadata),
# type step_failed (a step_error) and skill_invoked (a skill_invoke). An error event without --error
# gets {"code": "unspecified", "message": <its message>}. Anything faber cannot record as asked is
# refused on stderr with the reference's error JSON (one line) and exit 1.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=_faber.sh
. "$HERE/_faber.sh"

fail() {  # CODE MESSAGE: the reference's error document on stderr, exit 1
    jq -cn --arg code "$1" --arg message "$2" '{status: "error", error: {code: $code, message: $message}}' >&2
    exit 1
}

usage() {
    cat <<'USAGE'
Usage: emit-event.sh --run-id <org/project/uuid> --type <event_type> [--phase P] [--step S]
       [--status S] [--message TEXT] [--metadata JSON_OBJECT] [--artifacts JSON_ARRAY]
       [--duration-ms N] [--error JSON_OBJECT] [--base-path DIR]
Records the event with `faber event emit` and prints it as JSON.
USAGE
}

RUN_ID="" TYPE="" PHASE="" STEP="" STATUS="" MESSAGE="" METADATA="{}" ARTIFACTS="[]" DURATION="" ERROR=""
EXTRA="{}"
while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h) usage; exit 0 ;;
        --run-id) need_value "$1" $#; RUN_ID="$2"; shift 2 ;;
        --type) need_value "$1" $#; TYPE="$2"; shift 2 ;;
        --phase) need_value "$1" $#; PHASE="$2"; shift 2 ;;
        --step) need_value "$1" $#; STEP="$2"; shift 2 ;;
        --status) need_value "$1" $#; STATUS="$2"; shift 2 ;;
        --message) need_value "$1" $#; MESSAGE="$2"; shift 2 ;;
        --metadata)
            need_value "$1" $#
            jq -e 'type == "object"' <<<"$2" >/dev/null 2>&1 || fail INVALID_METADATA "--metadata must be a valid JSON object"
            METADATA="$(jq -c '.' <<<"$2")"; shift 2 ;;
        --data)  # the agents' free-form payload: kept as metadata
            need_value "$1" $#
            jq -e 'type == "object"' <<<"$2" >/dev/null 2>&1 || fail INVALID_DATA "--data must be a valid JSON object"
            EXTRA="$(jq -c --argjson more "$2" '. + $more' <<<"$EXTRA")"; shift 2 ;;
        --skill_name|--skill_config|--command_name)
            need_value "$1" $#
            EXTRA="$(jq -c --arg key "${1#--}" --arg value "$2" '. + {($key): $value}' <<<"$EXTRA")"; shift 2 ;;
        --artifacts)
            need_value "$1" $#
            jq -e 'type == "array"' <<<"$2" >/dev/null 2>&1 || fail INVALID_ARTIFACTS "--artifacts must be a valid JSON array"
            ARTIFACTS="$(jq -c '.' <<<"$2")"; shift 2 ;;
        --duration-ms|--duration)
            need_value "$1" $#
            [[ "$2" =~ ^[0-9]+$ ]] || fail INVALID_DURATION "$1 must be a positive integer"
            DURATION="$2"; shift 2 ;;
        --error)
            need_value "$1" $#
            jq -e 'type == "object"' <<<"$2" >/dev/null 2>&1 || fail INVALID_ERROR "--error must be a valid JSON object"
            ERROR="$(jq -c '.' <<<"$2")"; shift 2 ;;
        --base-path) need_value "$1" $#; use_base_path "$2"; shift 2 ;;
        *) echo "Unknown option: $1" >&2; exit 1 ;;
    esac
done
[ -n "$RUN_ID" ] || fail MISSING_RUN_ID "--run-id is required"
[ -n "$TYPE" ] || fail MISSING_EVENT_TYPE "--type is required"
case "$TYPE" in
    step_failed) TYPE="step_error" ;;
    skill_invoked) TYPE="skill_invoke" ;;
esac
if [ -z "$ERROR" ] && [[ "$TYPE" == *_error ]]; then
    ERROR="$(jq -cn --arg message "${MESSAGE:-$TYPE gave no details}" '{code: "unspecified", message: $message}')"
fi

# The event's fields beyond the flags faber event emit has, as its --data object.
DATA="$(jq -cn --argjson metadata "$METADATA" --argjson extra "$EXTRA" --argjson artifacts "$ARTIFACTS" \
            --argjson error "${ERROR:-null}" '
    {} + (($metadata + $extra) | if . == {} then {} else {metadata: .} end)
       + (if $artifacts == [] then {} else {artifacts: $artifacts} end)
       + (if $error == null then {} else {error: $error} end)')"
ARGS=(event emit "$RUN_ID" "$TYPE" --json --data "$DATA")
[ -z "$PHASE" ] || ARGS+=(--phase "$PHASE")
[ -z "$STEP" ] || ARGS+=(--step "$STEP")
[ -z "$STATUS" ] || ARGS+=(--status "$STATUS")
[ -z "$MESSAGE" ] || ARGS+=(--message "$MESSAGE")
[ -z "$DURATION" ] || ARGS+=(--duration-ms "$DURATION")

ERRORS="$(mktemp)"
trap 'rm -f "$ERRORS"' EXIT
if ! EVENT="$("$FABER" "${ARGS[@]}" 2>"$ERRORS")"; then
    LINE="$(grep -m1 '^faber: error: ' "$ERRORS" | sed 's/^faber: error: //' || true)"
    LINE="${LINE:-$(head -c 2000 "$ERRORS")}"
    case "$LINE" in
        *"invalid run id"*|*"invalid run uuid"*|*"as a run: give"*) CODE=INVALID_RUN_ID ;;
        *"unknown event type"*) CODE=INVALID_EVENT_TYPE ;;
        "no run "*) CODE=RUN_NOT_FOUND ;;
        *) CODE=EMIT_FAILED ;;
    esac
    fail "$CODE" "$LINE"
fi
grep -v '^faber: error: ' "$ERRORS" >&2 || true  # faber's warnings and notes, as it printed them
if [ -z "$EVENT" ]; then  # event logging is off (gateway.json): faber said so on stderr, recorded nothing
    jq -n --arg type "$TYPE" --arg run_id "$RUN_ID" --arg timestamp "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" \
        '{status: "success", operation: "emit-event", event_id: 0, type: $type, run_id: $run_id,
          timestamp: $timestamp, event_path: ""}'
    exit 0
fi
jq --arg base "$(run_base)" '{
    status: "success", operation: "emit-event", event_id, type, run_id, timestamp,
    event_path: "\($base)/\(.run_id)/events/\(.event_id | tostring | if length < 3 then ("00" + .)[-3:] else . end)-\(.type).json"
}' <<<"$EVENT"
