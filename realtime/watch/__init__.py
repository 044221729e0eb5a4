"""``python -m realtime.watch``: follow analyses live from a terminal, over the public protocol only.

A client of docs/protocol.md like any other (it imports nothing of the server): ``http`` gets tokens
and lists, ``tracker`` keeps each analysis's seq cursor (dedupe, gaps, outcome), ``watcher`` holds
the WebSocket (reconnects, resubscribes, token refresh), ``display`` shows bars or JSON lines.
"""
