"""Alerts between the two sides: rules, deadlines, rendering, and delivery (issue 6)."""
