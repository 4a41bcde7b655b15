"""What a campaign sends: the sandboxed message template (``template``), media checked against
Telegram's limits (``media``), and the preview staff see before launch (``preview``)."""
