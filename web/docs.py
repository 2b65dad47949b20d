"""/api/docs: the API's interactive documentation from swagger-ui's files as the
``swagger-ui-bundle`` package ships them, served under /static/swagger-ui — it works without
internet access and needs no inline script (the page's one script is /static/swagger-init.js)."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

STATIC = Path(__file__).with_name("static")
SWAGGER = Path(swagger_ui_path)

router = APIRouter(include_in_schema=False)

PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>督办 duban API 文档</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
<link rel="icon" type="image/png" href="/static/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/swagger-ui/swagger-ui-standalone-preset.js"></script>
<script src="/static/swagger-init.js"></script>
</body>
</html>
"""


@router.get("/api/docs")
def api_docs() -> HTMLResponse:
    return HTMLResponse(PAGE)


def mount(app) -> None:
    """The static files: duban's own (/static) and swagger-ui's (/static/swagger-ui)."""
    app.mount("/static/swagger-ui", StaticFiles(directory=SWAGGER), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
