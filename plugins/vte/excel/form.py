"""Reading an upload's multipart form as it streams: bounded in memory, authenticated before the file is read.

Starlette's own form parser spools a file of any size to disk before the application sees a single field,
so an anonymous client could fill the disk. Here the whole body is counted while it streams and refused
past ``limit``; nothing is written to disk; text fields are short; and when every credential field comes
before the file (as browsers and HTTP libraries send a form, in its field order), ``authenticate`` runs as
soon as the file part starts, so a request with a wrong key is refused before its file is read. Otherwise
the caller authenticates once the (bounded) form is read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

TEXT_FIELD_LIMIT = 4096  # accessKey, timestamp, sign, csrf: a few dozen characters each


class FormRefused(Exception):
    """The form cannot be read; ``too_large`` tells a size refusal from a malformed form."""

    def __init__(self, zh: str, en: str, *, too_large: bool = False):
        super().__init__(en)
        self.zh, self.en, self.too_large = zh, en, too_large


@dataclass
class UploadForm:
    fields: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # names of parts that are neither a known field nor the file
    file_name: str | None = None
    content: bytes | None = None  # None when the form has no file part
    authenticated: bool = False  # ``authenticate`` ran while streaming and let the request go on
    early_refusal: object | None = None  # what ``authenticate`` answered, when it refused before the file


@dataclass
class _Part:
    name: str = ""
    file_name: str | None = None
    data: bytearray = field(default_factory=bytearray)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


async def read_upload_form(request: Request, *, limit: int, text_fields: tuple[str, ...], file_field: str = "file",
                           max_parts: int = 10,
                           authenticate: Callable[[dict[str, str]], Awaitable[object | None]] | None = None,
                           ) -> UploadForm:
    """The form's fields and file; raises FormRefused. ``authenticate`` returns a refusal or None."""
    _, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if not boundary:
        raise FormRefused("表单缺少 multipart 分隔符（boundary）", "the form has no multipart boundary")
    form = UploadForm()
    parts: list[_Part] = []
    header_name, header_value = bytearray(), bytearray()
    finished = False
    file_started = False

    def on_part_begin():
        if len(parts) >= max_parts:
            raise FormRefused(f"表单字段过多（上限 {max_parts} 个）", f"too many form fields (at most {max_parts})")
        parts.append(_Part())

    def on_header_field(data, start, end):
        header_name.extend(data[start:end])

    def on_header_value(data, start, end):
        header_value.extend(data[start:end])

    def on_header_end():
        parts[-1].headers.append((bytes(header_name).lower(), bytes(header_value)))
        header_name.clear()
        header_value.clear()

    def on_headers_finished():
        nonlocal file_started
        part = parts[-1]
        disposition = next((v for k, v in part.headers if k == b"content-disposition"), b"")
        _, options = parse_options_header(disposition)
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            part.file_name = options[b"filename"].decode("utf-8", "replace")
            file_started = file_started or part.name == file_field

    def on_part_data(data, start, end):
        part = parts[-1]
        if part.file_name is None and len(part.data) + (end - start) > TEXT_FIELD_LIMIT:
            raise FormRefused(f"表单字段 {part.name[:40]} 过长", f"the form field {part.name[:40]!r} is too long")
        part.data.extend(data[start:end])

    def on_end():
        nonlocal finished
        finished = True

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_end": on_end})
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise FormRefused(f"上传内容过大（上限 {limit} 字节）", f"the upload is too large (at most {limit} bytes)",
                                  too_large=True)
            parser.write(chunk)
            if file_started and authenticate is not None and len(texts := _texts(parts, text_fields)) == len(text_fields):
                refusal = await authenticate(texts)
                authenticate = None  # once, whatever it answered
                form.authenticated = refusal is None
                if refusal is not None:
                    form.early_refusal = refusal
                    return form
    except FormParserError as exc:
        raise FormRefused("表单格式错误，无法读取", f"the multipart form is malformed ({exc})") from None
    if not finished:
        raise FormRefused("表单不完整（缺少结束分隔符）", "the multipart form is incomplete (no closing boundary)")
    form.fields = _texts(parts, text_fields)
    form.unknown = [p.name for p in parts if p.name not in text_fields and p.name != file_field]
    upload = next((p for p in parts if p.name == file_field and p.file_name is not None), None)
    if upload is not None:
        form.file_name, form.content = upload.file_name, bytes(upload.data)
    return form


def _texts(parts: list[_Part], names: tuple[str, ...]) -> dict[str, str]:
    return {p.name: p.data.decode("utf-8", "replace") for p in parts if p.name in names and p.file_name is None}
