"""Who a campaign is for: recipient values normalised to keys (``normalise``), files read as
tables (``reading``, ``columns``) and imported into lists (``importing``), recipients added or
updated by identity a batch at a time (``upsert``, the REST API's), and the time zone names
a file or a person may give (``zonenames``). Opt-outs are :mod:`campaigns.people.optout`."""
