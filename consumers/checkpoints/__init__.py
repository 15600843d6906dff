"""Cosigned checkpoints: the platform's checkpointer, the witnesses, their alarms (issue 21)."""
