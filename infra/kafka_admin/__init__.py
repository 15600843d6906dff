"""The operator's side of a Kafka cluster (local or external): topics, ACLs, credentials.

- ``topics``: the topic catalogue applied to a cluster (create, align, describe);
- ``acls``: the ACLs each participant and platform service needs (pure);
- ``admin``: ACLs and SCRAM credentials read and written through the admin API;
- ``acl_policy``: the participants registry turned into the broker's ACLs (``acls apply``).

Nothing is imported here: ``emining`` imports ``acl_policy`` at start-up and must stay light
(``tests/unit/test_cli_startup.py``); import the module you need.
"""

from __future__ import annotations

__all__ = ["acl_policy", "acls", "admin", "topics"]
