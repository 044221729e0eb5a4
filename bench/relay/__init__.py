"""The baseline: a bare Channels relay, as the Channels tutorial would have a user write it.

No authentication, no history, no gap filling: a socket joins the group ``analysis.<id>`` of its
URL and every group message is passed to it with ``send_json``; ``POST /publish/<id>`` sends the
next event to that group. The benchmark serves it with daphne on channels-redis, against the same
Redis as our service.
"""
