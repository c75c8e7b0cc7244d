"""REST endpoints of the model side (scoring with a reward model)."""

urlpatterns: list = []
