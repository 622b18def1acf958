"""Top-level URLs: the dashboard pages, the JSON API under /api/, the admin, login, the health check."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from webapp.experiments.urls import api_urls, pages
from webapp.health import healthz

admin.site.site_header = "NASBoard administration"
admin.site.site_title = "NASBoard admin"

urlpatterns = [
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("healthz", healthz, name="healthz"),  # no login, JSON, never redirected (docker compose's healthcheck)
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include(api_urls)),
    path("", include(pages)),
]

handler400 = "webapp.errors.bad_request"
handler403 = "webapp.errors.permission_denied"
handler404 = "webapp.errors.page_not_found"
handler500 = "webapp.errors.server_error"
