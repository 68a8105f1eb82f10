"""Ways to see a run: its timeline (a pure function of its events), drawn in the terminal
(``terminal.py``, ``text.py``) and as a self-contained HTML report (``html_report.py``)."""
