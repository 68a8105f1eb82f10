#!/usr/bin/env bash
# Drop-in for the FABER plugin's init-run-directory.sh: creates the run with `faber runs new --run-id`
# (metadata.json, state.json, events/), and prints the reference's JSON. --plan-id, which the plugin's
# faber-manager agent passes, is kept as the run parameter plan_id.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=_faber.sh
. "$HERE/_faber.sh"

RUN_ID="" WORK_ID=""
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h)
            echo "Usage: init-run-directory.sh --run-id ID --work-id ID [--target T] [--workflow W] [--autonomy A]"
            echo "       [--source-type T] [--phases a,b] [--parent-run ID] [--rerun-of ID] [--plan-id P] [--base-path DIR]"
            exit 0 ;;
        --run-id) need_value "$1" $#; RUN_ID="$2"; shift 2 ;;
        --work-id) need_value "$1" $#; WORK_ID="$2"; shift 2 ;;
        --target|--workflow|--autonomy|--source-type|--phases|--parent-run|--rerun-of)
            need_value "$1" $#; [ -z "$2" ] || ARGS+=("$1" "$2"); shift 2 ;;
        --plan-id) need_value "$1" $#; ARGS+=(--param "plan_id=$2"); shift 2 ;;
        --base-path) need_value "$1" $#; use_base_path "$2"; shift 2 ;;
        *) echo "Unknown option: $1" >&2; exit 1 ;;
    esac
done
[ -n "$RUN_ID" ] || { echo "Error: --run-id is required" >&2; exit 1; }
[ -n "$WORK_ID" ] || { echo "Error: --work-id is required" >&2; exit 1; }
METADATA="$("$FABER" runs new --run-id "$RUN_ID" --work-id "$WORK_ID" "${ARGS[@]}" --json)" || exit 1
RUN_DIR="$(run_base)/$RUN_ID"
jq --arg run_dir "$RUN_DIR" '{
    status: "success", operation: "init-run-directory", run_id, run_dir: $run_dir, work_id, created_at,
    files_created: ["\($run_dir)/metadata.json", "\($run_dir)/state.json", "\($run_dir)/events/.next-id"]
}' <<<"$METADATA"
