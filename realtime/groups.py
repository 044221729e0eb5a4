"""Names of the channel-layer groups, the one place that spells them."""

import uuid

#: Every process's fan-out hub joins this group for each analysis its sockets follow.
FEED_ALL_GROUP = "feed.all"


def analysis_group_name(analysis_id: uuid.UUID | str) -> str:
    return f"analysis.{analysis_id}"


def owner_feed_group_name(user_id: int) -> str:
    return f"feed.user.{user_id}"


def feed_group_name(*, user_id: int, reads_all: bool) -> str:
    """The group of the ``analyses`` feed a user gets: every creation, or only their own."""
    return FEED_ALL_GROUP if reads_all else owner_feed_group_name(user_id)
