from django.urls import path

from . import consumers, search_consumer

websocket_urlpatterns = [
    path("ws/queues/", consumers.OverviewConsumer.as_asgi()),
    path("ws/queues/<str:name>/", consumers.QueueConsumer.as_asgi()),
    path("ws/queues/<str:name>/jobs/<str:job_id>/", consumers.JobConsumer.as_asgi()),
    path("ws/queues/<str:name>/search/", search_consumer.SearchConsumer.as_asgi()),
]
