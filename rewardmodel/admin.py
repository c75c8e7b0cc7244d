from django.contrib import admin

from .models import DatasetSnapshot, GenerationJob, ModelArtifact, RunMetric, TrainingRun

for model in (ModelArtifact, DatasetSnapshot, TrainingRun, RunMetric, GenerationJob):
    admin.site.register(model)
