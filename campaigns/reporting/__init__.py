"""The read side: what staff read about campaigns, computed from the maintained tallies and the
results, never changing them.

- :mod:`.home` — the staff home page; :mod:`.progress` — a campaign's counts and bars;
  :mod:`.forecast` — when it will finish and why it waits; :mod:`.summary` — what a launch will
  do; :mod:`.charts` — the campaign page's charts; :mod:`.report` — after the send (reads,
  replies, opt-outs); :mod:`.errorcodes` — what a stored error code means and whether a retry
  can help; :mod:`.counts` — result counts as a query expression over the tally;
- :mod:`.exports` — results as CSV and XLSX, written by :mod:`.xlsx_writer` and read ahead by
  :mod:`.readahead`.

It imports the models, the engine's pure helpers (windows, zones, pace) and the people room; the
admin and the views import it, never the other way round.
"""
