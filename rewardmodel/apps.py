from django.apps import AppConfig


class RewardModelConfig(AppConfig):
    name = "rewardmodel"
    verbose_name = "Models and training"

    def ready(self) -> None:
        # The Celery app, made once Django is set up, so every shared task (rewardmodel.tasks) is
        # bound to it in the web process, the workers and the commands alike.
        import pairwise.celery  # noqa: F401
        import rewardmodel.tasks  # noqa: F401  (registered before any job is sent by name)
