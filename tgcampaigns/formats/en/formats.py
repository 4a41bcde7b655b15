"""Dates and times as staff read them: ISO order, 24-hour clock, and the time zone's name on
every time ("2026-11-29 10:39 CET"), in the zone each user chose (campaigns.people.timezones)."""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i T"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
FIRST_DAY_OF_WEEK = 1
