"""Synthetic identifiers shared by the events' EXAMPLEs, so examples of one story agree.

None of these belongs to a real organisation or person: the USCCs are checksum-valid inventions,
the CNIC and NTN are made up. Tests, docs and the demo may rely on them.
"""

from __future__ import annotations

OPERATOR = "91650100MA7XK3P2LA"
"""USCC of the operator of PRJ-BA-CHG-0007, holder of BA-EL-2025-0153, exporter of the shipment."""

PARTNER = "91310000MA1FL8QW3Y"
"""USCC of a minority joint-venture partner (and assignee in the assignment example)."""

BUYER = "91110000MA01Y5RT7Y"
"""USCC of the Chinese buyer of the concentrate."""

SMELTER = "91440300MA5GQ2N8HU"
"""USCC of the smelter that receives the shipment."""

LOCAL_NTN = "4211234-5"
"""NTN of the operator's Pakistani subsidiary."""

REPRESENTATIVE_CNIC = "35202-1234567-1"
"""CNIC of the applicant's authorised representative in Pakistan."""

BA_MMDD = "urn:emining:pk:gov:ba-mmdd"
"""Balochistan Mines & Minerals Development Department: licensing authority in PK-BA and issuer
of export NOCs for minerals from the province."""

BA_EPA = "urn:emining:pk:gov:ba-epa"
"""Balochistan Environmental Protection Agency."""

PSW = "urn:emining:pk:gov:psw"
"""Pakistan Single Window."""

TITLE = "BA-EL-2025-0153"
PROJECT = "PRJ-BA-CHG-0007"
PLANT = "PRJ-BA-CHG-0012"
"""A copper smelter in Chagai, operated by PARTNER, fed concentrate by PRJ-BA-CHG-0007."""
SHIPMENT = "SHP-2026-000123"
LPCO = "LPCO-2026-000457"
EIA_FILE = "EIA-BA-2025-0031"
