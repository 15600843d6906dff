"""The demo: the platform end to end on synthetic organisations (``emining demo``)."""
