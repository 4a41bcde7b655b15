"""Audiences made from what earlier campaigns recorded: follow-ups (:mod:`.followups`) — a new
draft to those who did not read a campaign, read but did not reply, replied, or could not be sent
for a reason worth a retry — now, or scheduled some hours after the campaign ends. The segment
language itself lives with the models (:mod:`campaigns.models.segment_rules`)."""
