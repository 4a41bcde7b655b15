"""Who a campaign is for: recipient values normalised to keys (``normalise``), files read as
tables (``reading``, ``columns``) and imported into lists (``importing``), and opt-outs
(``optout``)."""
