from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/queues/", include("dashboard.urls")),
    path("admin/", admin.site.urls),
]
