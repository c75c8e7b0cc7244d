from django.apps import AppConfig


class RewardModelConfig(AppConfig):
    name = "rewardmodel"
    verbose_name = "Models and training"
