"""Event contracts shared by every service: envelope, topics and keys, versioned event models.

This package is the only vocabulary services share. It does no I/O.
"""

from calsync_contracts.envelope import Envelope, Origin, OriginKind, Provider
from calsync_contracts.keys import partition_key, topic_of
from calsync_contracts.topics import Topic, dead_letter_topic

__all__ = [
    "Envelope",
    "Origin",
    "OriginKind",
    "Provider",
    "Topic",
    "dead_letter_topic",
    "partition_key",
    "topic_of",
]
