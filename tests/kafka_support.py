"""How tests hand the broker's address and credential to Settings and to subprocesses."""

from __future__ import annotations

from typing import Any

from infra.settings import Settings
from transport.access import KafkaAccess

SECURITY = {"PLAINTEXT": "none", "SASL_PLAINTEXT": "scram", "SASL_SSL": "scram-tls"}


def settings_for(access: KafkaAccess, **overrides: Any) -> Settings:
    """Settings whose clients reach ``access``'s broker as ``access``'s principal."""
    return Settings(
        kafka_bootstrap=access.bootstrap,
        kafka_security=SECURITY[access.protocol],  # type: ignore[arg-type]
        kafka_username=access.username,
        kafka_password=access.password,  # type: ignore[arg-type]
        kafka_ca_file=access.ca_file,
        **overrides,
    )


def access_env(access: KafkaAccess) -> dict[str, str]:
    """``EMINING_KAFKA_*`` variables for a subprocess acting as ``access``'s principal."""
    env = {"EMINING_KAFKA_BOOTSTRAP": access.bootstrap,
           "EMINING_KAFKA_SECURITY": SECURITY[access.protocol]}
    if access.username is not None and access.password is not None:
        env |= {"EMINING_KAFKA_USERNAME": access.username,
                "EMINING_KAFKA_PASSWORD": access.password}
    if access.ca_file is not None:
        env["EMINING_KAFKA_CA_FILE"] = str(access.ca_file)
    return env
