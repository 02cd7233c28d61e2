from django.contrib import admin

from .models import QueueAccess


@admin.register(QueueAccess)
class QueueAccessAdmin(admin.ModelAdmin):
    list_display = ("group", "pattern", "can_operate")
    list_filter = ("can_operate", "group")
    search_fields = ("pattern", "group__name")
