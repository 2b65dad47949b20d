"""/api/docs: the API's interactive documentation from swagger-ui's files as the
``swagger-ui-py`` package ships them (swagger-ui 5, which reads FastAPI's OpenAPI 3.1), served
under /static/swagger-ui — it works without
internet access and needs no inline script (the page's one script is /static/swagger-init.js)."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui.utils import SWAGGER_UI_PY_ROOT

STATIC = Path(__file__).with_name("static")
SWAGGER = Path(SWAGGER_UI_PY_ROOT) / "static"

router = APIRouter(include_in_schema=False)

PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>督办 duban API 文档</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
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
