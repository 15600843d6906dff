"""Auditors' tools: replay history, verify every signature and chain, report what happened."""

from consumers.audit.findings import Finding, Kind, VerifyReport
from consumers.audit.records import AuditError, AuditTopics, RawRecord
from consumers.audit.verify import verify_log, verify_records

__all__ = [
    "AuditError",
    "AuditTopics",
    "Finding",
    "Kind",
    "RawRecord",
    "VerifyReport",
    "verify_log",
    "verify_records",
]
