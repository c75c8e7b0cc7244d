from django.contrib import admin

from .models import Assignment, Comparison, ImportBatch, Judgment, LabelerExclusion, Project, Prompt, Response

for model in (Project, Prompt, Response, Comparison, Assignment, Judgment, LabelerExclusion, ImportBatch):
    admin.site.register(model)
