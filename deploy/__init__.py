"""The production layout: configuration templates (HAProxy, systemd, Redis and Sentinel) and
``deploy.cluster``, which starts the whole layout on one machine (``scripts/cluster``)."""
