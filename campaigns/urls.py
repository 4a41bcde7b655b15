"""Staff-only endpoints next to the admin (progress JSON, CSV export)."""

from django.urls import path

from . import views

app_name = "campaigns"
urlpatterns = [
    path("<int:pk>/progress.json", views.progress, name="progress"),
    path("<int:pk>/charts.json", views.charts, name="charts"),
    path("<int:pk>/report.json", views.report, name="report"),
    path("<int:pk>/results.csv", views.export, name="export"),
]
