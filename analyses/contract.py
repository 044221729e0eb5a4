"""Values the wire contract (docs/protocol.md) fixes, written once: every reader takes them from here."""

#: History pages, over HTTP and the socket (§3, §4).
HISTORY_LIMIT_DEFAULT = 100
HISTORY_LIMIT_MAX = 500

#: Progress of an attempt, in percent (§1).
PROGRESS_MAX = 100

#: A client-chosen idempotency key of a change (§1).
TRANSITION_ID_MAX_LENGTH = 100

#: A person-readable message on a change, and an error's code and detail (the service's own bounds).
MESSAGE_MAX_LENGTH = 2000
ERROR_CODE_MAX_LENGTH = 64

#: The one answer for an analysis that is missing and for one the caller may not read: it never
#: reveals which (§3 "Authorization", §4).
NOT_FOUND = "No analysis with that id is visible to you."
