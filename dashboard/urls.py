from django.urls import path

from . import add_job, bulk, export, failures, search_views, views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("-/activity/", views.activity, name="activity"),  # "-/": no queue page clashes
    path("-/workers/", views.workers_page, name="workers"),
    path("-/schedulers/", views.schedulers_page, name="schedulers"),
    path("<str:name>/schedulers/<str:scheduler_id>/actions/<str:action>/",
         views.scheduler_action, name="scheduler_action"),
    path("<str:name>/", views.queue_page, name="queue"),
    path("<str:name>/actions/<str:action>/", views.queue_action, name="queue_action"),
    path("<str:name>/search/", search_views.search_view, name="search"),
    path("<str:name>/export/", export.export, name="export"),
    path("<str:name>/jobs/<str:job_id>/", views.job_page, name="job"),
    path("<str:name>/jobs/<str:job_id>/raw/", views.job_raw, name="job_raw"),
    path("<str:name>/jobs/<str:job_id>/actions/<str:action>/", views.job_action,
         name="job_action"),
    path("<str:name>/add/", add_job.add_job, name="add_job"),
    path("<str:name>/bulk/<str:action>/", bulk.bulk_action, name="bulk_action"),
    path("<str:name>/failures/", failures.failure_groups, name="failure_groups"),
    path("<str:name>/failures/<str:key>/actions/<str:action>/", failures.failure_group_action,
         name="failure_group_action"),
]
