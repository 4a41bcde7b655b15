"""People: the recipients' rights and the staff's roles, where audiences will live.

- :mod:`.persons` — a person found by any identity: their rows, opt-outs, tags and timeline;
- :mod:`.tagging` — tags added to or removed from many rows at once;
- :mod:`.erasure` — erase a person everywhere by any identity (what is kept of them, a hash per
  identity, is :mod:`campaigns.models.privacy`, which the import asks);
- :mod:`.retention` — purge results and lists older than the settings allow;
- :mod:`.optout` — a private "STOP" becomes a suppression;
- :mod:`.roles` — the staff groups (Marketing, Reviewer, Operator) and their permissions;
- :mod:`.timezones` — staff's own time zone, and times written for people ("until 10:47 CET").

It imports the models and the lists (normalising an identity); the lists never import it.
"""
