#!/usr/bin/env bash
# A stand-in for the FABER reference's emit-event.sh, written from its documented behaviour (not its
# code): the id is allocated under `flock -x events/.next-id.lock` (a file opened truncating, and
# deleted after release), the event written with `echo >` (overwriting any file of that name), then
# state.json's last_event_id and updated_at set by jq, unlocked. Used by the mixed-writer tests.
# Usage: emit-event.sh RUN_DIR RUN_ID TYPE MESSAGE
set -euo pipefail
RUN_DIR="$1" RUN_ID="$2" TYPE="$3" MESSAGE="$4"
EVENTS="$RUN_DIR/events"
LOCK="$EVENTS/.next-id.lock"
EVENT_ID="$(
    exec 200>"$LOCK"
    flock -x 200
    CURRENT="$(cat "$EVENTS/.next-id" 2>/dev/null || echo 1)"
    echo $((CURRENT + 1)) > "$EVENTS/.next-id"
    echo "$CURRENT"
)"
rm -f "$LOCK"
TIMESTAMP="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
EVENT="$(jq -n --argjson event_id "$EVENT_ID" --arg type "$TYPE" --arg timestamp "$TIMESTAMP" --arg run_id "$RUN_ID" \
    --arg message "$MESSAGE" '{event_id: $event_id, type: $type, timestamp: $timestamp, run_id: $run_id,
                               user: "script", source: "emit-event.sh", message: $message}')"
echo "$EVENT" > "$EVENTS/$(printf '%03d' "$EVENT_ID")-$TYPE.json"
if [ -f "$RUN_DIR/state.json" ]; then
    jq --argjson id "$EVENT_ID" --arg at "$TIMESTAMP" '.last_event_id = $id | .updated_at = $at' \
        "$RUN_DIR/state.json" > "$RUN_DIR/state.json.tmp.$$"
    mv "$RUN_DIR/state.json.tmp.$$" "$RUN_DIR/state.json"
fi
echo "$EVENT_ID"
