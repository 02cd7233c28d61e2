from django.urls import path

from . import (
    add_job,
    bulk,
    export,
    failures,
    search_views,
    url_keys,  # noqa: F401  (registers <key:...>: any name or id BullMQ accepts)
    views,
)

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("-/activity/", views.activity, name="activity"),  # "-/": no queue page clashes
    path("-/workers/", views.workers_page, name="workers"),
    path("-/schedulers/", views.schedulers_page, name="schedulers"),
    path("<key:name>/schedulers/<key:scheduler_id>/actions/<str:action>/",
         views.scheduler_action, name="scheduler_action"),
    path("<key:name>/", views.queue_page, name="queue"),
    path("<key:name>/actions/<str:action>/", views.queue_action, name="queue_action"),
    path("<key:name>/search/", search_views.search_view, name="search"),
    path("<key:name>/export/", export.export, name="export"),
    path("<key:name>/jobs/<key:job_id>/", views.job_page, name="job"),
    path("<key:name>/jobs/<key:job_id>/raw/", views.job_raw, name="job_raw"),
    path("<key:name>/jobs/<key:job_id>/actions/<str:action>/", views.job_action,
         name="job_action"),
    path("<key:name>/add/", add_job.add_job, name="add_job"),
    path("<key:name>/bulk/<str:action>/", bulk.bulk_action, name="bulk_action"),
    path("<key:name>/failures/", failures.failure_groups, name="failure_groups"),
    path("<key:name>/failures/<str:key>/actions/<str:action>/", failures.failure_group_action,
         name="failure_group_action"),
    path("<path:rest>", views.not_found, name="not_found"),  # the dashboard's own 404
]
