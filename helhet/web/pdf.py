"""PDF from the same HTML templates as the pages (WeasyPrint)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def _fetcher() -> Any:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):  # type: ignore[misc]
        """Serve /static/ URLs from the app directories; PDFs never make a network request."""

        def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
            marker = "/" + settings.STATIC_URL.strip("/") + "/"
            if marker in url:
                path = finders.find(url.split(marker, 1)[1].split("?")[0])
                if isinstance(path, str):
                    with open(path, "rb") as handle:
                        mime = {"css": "text/css", "svg": "image/svg+xml", "png": "image/png"}.get(
                            path.rsplit(".", 1)[-1], "application/octet-stream")
                        return URLFetcherResponse(url, handle.read(), {"Content-Type": mime})
            if url.startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError(f"PDF rendering does not fetch {url}")

    return StaticOnlyFetcher()


def render_pdf(template: str, context: dict[str, Any], *, request: HttpRequest | None = None) -> bytes:
    from weasyprint import HTML

    html = render_to_string(template, {**context, "pdf": True}, request=request)
    return HTML(string=html, base_url="http://helhet.local/", url_fetcher=_fetcher()).write_pdf()


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
