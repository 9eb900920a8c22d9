"""What-if settings: the product's settings with channels_redis's pub/sub channel layer.

The default RedisChannelLayer delivers a group message as one Redis list entry per member
channel, and each daphne process pops them one at a time; the pub/sub layer publishes once per
group and fans out inside each daphne process. Only the bench's what-if stage uses this.
"""
from xantuus.settings import *  # noqa: F403
from xantuus.settings import REDIS_URL

CHANNEL_LAYERS = {
    "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
}
