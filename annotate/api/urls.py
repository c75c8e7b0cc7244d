"""REST API for labelers and managers (issue: annotation core)."""

urlpatterns: list = []
