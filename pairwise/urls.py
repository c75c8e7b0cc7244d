from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("annotate.api.urls")),
    path("api/models/", include("rewardmodel.api_urls")),
    path("quality/", include("annotate.quality_urls")),
    path("reports/", include("rewardmodel.report_urls")),
    path("", include("rewardmodel.urls")),
    path("", include("annotate.urls")),
]
