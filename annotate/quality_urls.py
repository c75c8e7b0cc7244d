"""Manager pages: labeler quality and leaderboards."""

urlpatterns: list = []
