"""Mixed writers: reference-like scripts (tests/reference_like/emit-event.sh) and `faber event emit`
writing into one run at once, as real processes. ``python tests/mixed_writers.py [TRIALS]`` prints the
figures of issue 16 (4 script + 4 faber emitters x 25 events per trial)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "reference_like" / "emit-event.sh"
FABER = str(Path(sys.executable).with_name("faber"))


@dataclass
class Trial:
    acknowledged: int  # faber emits that answered an id
    survived: int  # of those, events still in their file as faber stored them
    script_events: int  # event files the scripts' events are in at the end
    faber_duplicates: int  # faber events stored under an id another file also holds


def run_trial(project: Path, run_id: str, environ: dict[str, str], scripts: int = 4, fabers: int = 4,
              each: int = 25) -> Trial:
    """One trial: every emitter started at once, each emitting ``each`` checkpoint events."""
    run_dir = project / ".fractary/plugins/faber/runs" / run_id
    work = Path(tempfile.mkdtemp(prefix="mixed-", dir=project.parent))
    workers = []
    for number in range(fabers):
        loop = (f'for i in $(seq 1 {each}); do m="faber-{number}-$i"; '
                f'if id=$("$FABER" event emit "$RUN" checkpoint --message "$m"); then echo "$id $m" >> "$ACK"; fi; done')
        workers.append(subprocess.Popen(["bash", "-c", loop], cwd=project, env={
            **environ, "FABER": FABER, "RUN": run_id, "ACK": str(work / f"ack-{number}")}))
    for number in range(scripts):
        loop = (f'for i in $(seq 1 {each}); do "$SCRIPT" "$DIR" "$RUN" checkpoint "script-{number}-$i" >/dev/null '
                f'2>&1 || true; done')
        workers.append(subprocess.Popen(["bash", "-c", loop], cwd=project, env={
            **environ, "SCRIPT": str(SCRIPT), "DIR": str(run_dir), "RUN": run_id}))
    for worker in workers:
        assert worker.wait(timeout=600) == 0
    acknowledged = [line.split(" ", 1) for ack in work.glob("ack-*") for line in ack.read_text().splitlines()]
    files: dict[int, list[dict[str, object]]] = {}
    for path in (run_dir / "events").glob("*.json"):
        try:
            event = json.loads(path.read_text())
        except ValueError:
            continue  # a script's half-written or empty file
        files.setdefault(int(path.name.split("-", 1)[0]), []).append(event)
    survived = sum(1 for number, message in acknowledged
                   if any(event.get("message") == message for event in files.get(int(number), [])))
    return Trial(
        acknowledged=len(acknowledged), survived=survived,
        script_events=sum(1 for events in files.values() for e in events if e.get("source") == "emit-event.sh"),
        faber_duplicates=sum(1 for number, _ in acknowledged if len(files.get(int(number), [])) > 1),
    )


def main(trials: int) -> None:
    from faber_host.init import initialize

    environ = {k: v for k, v in os.environ.items() if not k.startswith("FABER_")}
    results = []
    for _ in range(trials):
        with tempfile.TemporaryDirectory() as folder:
            project = Path(folder) / "widget-service"
            project.mkdir()
            initialize(project, "acme", "widget-service", environ)
            run_id = subprocess.run([FABER, "runs", "new", "--work-id", "1"], cwd=project, env=environ, check=True,
                                    capture_output=True, text=True).stdout.strip()
            results.append(run_trial(project, run_id, environ))
            print(results[-1], flush=True)
    kept = sum(r.survived for r in results)
    acked = sum(r.acknowledged for r in results)
    print(f"{trials} trials: faber acknowledged {acked}, {kept} survived ({kept / acked:.1%}); "
          f"worst trial {min(r.survived for r in results)}/{max(r.acknowledged for r in results)}; "
          f"faber ids also held by another file: {sum(r.faber_duplicates for r in results)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
