"""The project's settings with channels-redis as the channel layer, on the
server in QUEUECORE_REDIS_URL (the two-process test's Daphnes)."""

import os

from config.settings import *  # noqa: F403

CHANNEL_LAYERS = {"default": {
    "BACKEND": "channels_redis.core.RedisChannelLayer",
    # redis-py 8 times reads out at 5 s, as long as channels-redis blocks: longer
    "CONFIG": {"hosts": [{"address": os.environ["QUEUECORE_REDIS_URL"], "socket_timeout": 10}],
               "prefix": "asgi-test"},
}}
