"""Manager pages: model registry, generation jobs, training runs."""

urlpatterns: list = []
