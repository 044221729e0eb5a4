"""The REST API of docs/protocol.md §4 for analyses."""
