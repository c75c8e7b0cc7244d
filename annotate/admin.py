from django.contrib import admin

from .admin_io import ProjectIOAdminMixin
from .models import Assignment, Comparison, ImportBatch, Judgment, LabelerExclusion, Project, Prompt, Response


@admin.register(Project)
class ProjectAdmin(ProjectIOAdminMixin, admin.ModelAdmin):
    pass


for model in (Prompt, Response, Comparison, Assignment, Judgment, LabelerExclusion, ImportBatch):
    admin.site.register(model)
