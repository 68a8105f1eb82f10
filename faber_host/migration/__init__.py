"""Import the old single-file FABER state (``.fractary/plugins/faber/state.json``, from before run
IDs) as a run: ``rebuild.py`` turns the file into metadata and events, ``migrate.py`` reads the file,
imports the run through the record store and remembers that it did."""
