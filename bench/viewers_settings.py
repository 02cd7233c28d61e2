"""Settings for bench/viewers.py's Daphne: the project's, with channels-redis as
the channel layer when QUEUECORE_BENCH_LAYER_URL is set (``--layer redis``)."""

import os

from config.settings import *  # noqa: F403

if os.environ.get("QUEUECORE_BENCH_LAYER_URL"):
    CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 times reads out at 5 s, as long as channels-redis blocks: longer
        "CONFIG": {"hosts": [{"address": os.environ["QUEUECORE_BENCH_LAYER_URL"],
                              "socket_timeout": 10}]},
    }}
