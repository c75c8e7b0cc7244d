"""REST endpoints of the model side (scoring with a reward model)."""

from django.urls import path

from rewardmodel.evaluation.scoring_api import ScoreResultView, ScoreView

urlpatterns = [
    path("<int:pk>/score/", ScoreView.as_view(), name="api-score"),
    path("score/<str:task_id>/", ScoreResultView.as_view(), name="api-score-result"),
]
