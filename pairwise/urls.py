from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    # For logged-in users only (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]); a browser that is not
    # logged in is sent to the login page for the docs.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", login_required(SpectacularSwaggerView.as_view(url_name="schema")), name="api-docs"),
    path("api/", include("annotate.api.urls")),
    path("api/models/", include("rewardmodel.api_urls")),
    path("quality/", include("annotate.quality_urls")),
    path("reports/", include("rewardmodel.report.urls")),
    path("", include("rewardmodel.urls")),
    path("", include("annotate.urls")),
]

# Unmatched URLs under /api/ answer JSON (bad path parameters like /api/projects/abc/ included).
handler404 = "annotate.api.errors.not_found"
