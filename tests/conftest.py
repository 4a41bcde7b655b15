"""Shared fixtures: one small named world (DESIGN/STYLE: an operator, a marketer, sessions)."""
