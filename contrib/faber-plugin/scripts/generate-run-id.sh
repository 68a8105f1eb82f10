#!/usr/bin/env bash
# Drop-in for the FABER plugin's generate-run-id.sh: prints a new run id, org/project/uuid, as plain
# text (the reference's stdout). The org and project are faber's for this project (`faber runs new`
# names runs the same way) unless --org / --project say otherwise; the uuid is a random uuid4.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=_faber.sh
. "$HERE/_faber.sh"

ORG="" PROJECT="" UUID_ONLY=false
while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h) echo "Usage: generate-run-id.sh [--org ORG] [--project PROJECT] [--uuid-only]"; exit 0 ;;
        --org) need_value "$1" $#; ORG="$2"; shift 2 ;;
        --project) need_value "$1" $#; PROJECT="$2"; shift 2 ;;
        --uuid-only) UUID_ONLY=true; shift ;;
        *) echo "Unknown option: $1" >&2; exit 1 ;;
    esac
done
ARGS=(runs new-id)
[ -z "$ORG" ] || ARGS+=(--org "$ORG")
[ -z "$PROJECT" ] || ARGS+=(--project "$PROJECT")
RUN_ID="$("$FABER" "${ARGS[@]}")" || exit 1
if $UUID_ONLY; then
    echo "${RUN_ID##*/}"
else
    echo "$RUN_ID"
fi
