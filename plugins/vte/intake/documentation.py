"""The interface's own documentation, served by the intake: Swagger UI and a page of result codes.

Provincial networks have no internet, so nothing here loads from a CDN: Swagger UI's files are vendored
under ``static/swagger-ui`` (swagger-ui-dist from the npm registry, see its VERSION) and served by the
intake itself. The result codes are one table, vte.intake.responses, shown as a page (/codes) and in the
OpenAPI document's description.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from vte.intake.responses import ADVICE, EXAMPLE_DATA, MESSAGES, ResultCode, body

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
                        autoescape=select_autoescape())
router = APIRouter(include_in_schema=False)


def code_rows() -> list[dict]:
    """Every result code with its HTTP status, meaning, what to do and an example answer."""
    return [{
        "code": int(code),
        "http_status": code.http_status,
        "meaning_zh": MESSAGES[code][0], "meaning_en": MESSAGES[code][1],
        "advice_zh": ADVICE[code][0], "advice_en": ADVICE[code][1],
        "example": json.dumps(body(code, {**EXAMPLE_DATA.get(code, {}), "requestId": "5f0c…"}),
                              ensure_ascii=False, indent=2),
    } for code in ResultCode]


def codes_markdown() -> str:
    """The code table as Markdown, for the OpenAPI document's description."""
    lines = ["| code | HTTP | 含义 / meaning | 处理 / what to do |", "|---|---|---|---|"]
    lines += [f"| {r['code']} | {r['http_status']} | {r['meaning_zh']} / {r['meaning_en']} |"
              f" {r['advice_zh']} / {r['advice_en']} |" for r in code_rows()]
    return "\n".join(lines)


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="VTE 质控数据上报接口 / Submission interface",
                               swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
                               swagger_css_url="/static/swagger-ui/swagger-ui.css",
                               swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
                               # Swagger UI would otherwise ask validator.swagger.io about the document.
                               swagger_ui_parameters={"validatorUrl": None})


@router.get("/codes")
def result_codes() -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template("codes.html").render(rows=code_rows()))


def install(app: FastAPI) -> None:
    """Serve the documentation pages and their local assets."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
