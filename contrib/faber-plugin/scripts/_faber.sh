# Shared by the drop-in run-manager scripts: how they find faber, and the run base they report.
# Sourced, never run. FABER names the faber command (default: the one on PATH).

FABER="${FABER:-faber}"
RUN_BASE_DEFAULT=".fractary/plugins/faber/runs"

# use_base_path DIR: the reference's --base-path; faber's local-files store reads it from
# FABER_RUNS_PATH (relative to the project root, which is where the plugin runs its scripts).
use_base_path() {
    export FABER_RUNS_PATH="$1"
}

run_base() {
    printf '%s' "${FABER_RUNS_PATH:-$RUN_BASE_DEFAULT}"
}

# need_value FLAG ARGC: the reference stops on a flag without its value; so do these, in one line.
need_value() {
    if [ "$2" -lt 2 ]; then
        echo "Error: $1 needs a value" >&2
        exit 1
    fi
}

command -v jq >/dev/null 2>&1 || { echo "Error: jq is required" >&2; exit 1; }
