"""The REST API of PROTOCOL §4 for analyses."""
