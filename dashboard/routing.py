from django.urls import path

from . import (
    consumers,
    search_consumer,
    url_keys,  # noqa: F401  (registers <key:...>)
)

websocket_urlpatterns = [
    path("ws/queues/", consumers.OverviewConsumer.as_asgi()),
    path("ws/queues/<key:name>/", consumers.QueueConsumer.as_asgi()),
    path("ws/queues/<key:name>/jobs/<key:job_id>/", consumers.JobConsumer.as_asgi()),
    path("ws/queues/<key:name>/search/", search_consumer.SearchConsumer.as_asgi()),
]
