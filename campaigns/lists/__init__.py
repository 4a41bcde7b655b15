"""Who a campaign is for: recipient values normalised to keys (``normalise``), files read as
tables (``reading``, ``columns``) and imported into lists (``importing``), and the time zone names
a file or a person may give (``zonenames``). Opt-outs are :mod:`campaigns.people.optout`."""
