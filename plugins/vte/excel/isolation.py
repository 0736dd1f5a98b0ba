"""Parsing an uploaded workbook in a child process of its own, so that no workbook can take the server down.

The inspection (``vte.excel.inspection``) refuses the attacks known today, but the readers stay large native
code reading hostile input: python-calamine is Rust, where an allocation that fails aborts the process (no
``except`` runs), and what else a reader may be made to do is unknown. So each parse runs in a fresh child
with its own address-space and CPU limits, and whatever happens there (an abort, MemoryError, a hang, any
exception) reaches the server as one refusal of the workbook. One process per parse: uploads are rare, and a
child that only ever holds one workbook makes the limit and the kill simple.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import threading
from multiprocessing.connection import Connection

from vte.excel.parser import CellError, ParsedWorkbook, parse_workbook

DEFAULT_MEMORY_MB = 2048  # a 100,000-row workbook, the most the platform reads, needs ~430 MB
DEFAULT_SECONDS = 120.0  # the same workbook parses in ~5 s on a 2-core machine
MAX_CONCURRENT = 2  # per server process: simultaneous uploads wait rather than multiply the memory
MAX_ERRORS_RETURNED = 10_000  # shown are 1,000; the rest of a wholly wrong workbook would only fill the pipe

MEMORY_ENV = "VTE_INTAKE_WORKBOOK_MEMORY_MB"
SECONDS_ENV = "VTE_INTAKE_WORKBOOK_SECONDS"

log = logging.getLogger(__name__)

# Children fork from a small server process that has imported the parser once (fast to start, and no copy of
# the serving process's memory, threads or sockets). "__main__" is preloaded too, or each child would run the
# main script (the vte command) again.
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["__main__", "vte.excel.parser"])
_slots = threading.BoundedSemaphore(MAX_CONCURRENT)


def parse_isolated(content: bytes, *, memory_mb: int | None = None, seconds: float | None = None,
                   **parse_options) -> ParsedWorkbook:
    """``parse_workbook(content, **parse_options)`` in a child process; never raises for any content."""
    memory_mb = memory_mb or int(_setting(MEMORY_ENV, DEFAULT_MEMORY_MB))
    seconds = seconds or _setting(SECONDS_ENV, DEFAULT_SECONDS)
    if not _slots.acquire(timeout=seconds):
        return _refused("server_busy", "服务器正忙于读取其他工作簿，请几分钟后重新上传",
                        "the server is busy reading other workbooks: upload the file again in a few minutes")
    try:
        return _run(content, memory_mb, seconds, parse_options)
    except Exception:  # the machinery failed (no fork server, no pipe ...): still a refusal, never a 500
        log.exception("parsing a workbook in a child process failed")
        return _unreadable()
    finally:
        _slots.release()


def _run(content: bytes, memory_mb: int, seconds: float, parse_options: dict) -> ParsedWorkbook:
    reader, writer = _context.Pipe(duplex=False)
    child = _context.Process(target=_child, args=(writer, content, memory_mb, seconds, parse_options),
                             name="vte-workbook-parse", daemon=True)
    child.start()
    writer.close()  # the child holds the only write end: its death reads as the end of the pipe
    answered, result = False, None
    try:
        answered = reader.poll(seconds)
        if answered:
            try:
                result = reader.recv()
            except (EOFError, OSError):
                pass  # the child died before it answered
    finally:
        reader.close()
        child.join(timeout=5 if answered else 0)
        if child.exitcode is None:
            child.kill()
            child.join()
    if not answered:
        log.warning("parsing a workbook took longer than %s s: child %s killed", seconds, child.pid)
        return _refused("workbook_timeout",
                        f"读取工作簿超过了 {seconds:g} 秒，已停止。请把数据分成几个较小的文件分别上传",
                        f"reading the workbook took longer than {seconds:g} s and was stopped: split the data "
                        "into several smaller files and upload each")
    if not isinstance(result, ParsedWorkbook):
        log.warning("the child parsing a workbook died with exit code %s (a crash, or past its %s MB limit)",
                    child.exitcode, memory_mb)
        return _unreadable()
    return result


def _child(writer: Connection, content: bytes, memory_mb: int, seconds: float, parse_options: dict) -> None:
    # Address space counts what is mapped, not what is used: numpy (imported by openpyxl) maps buffers for
    # its threads up front, more on machines with more cores. So the limit is what the parse may add.
    try:
        with open("/proc/self/statm") as statm:
            mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        mapped = 0
    limit = mapped + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = int(seconds) + 5  # a child left behind by a dying server cannot run for ever
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort leaves no core file behind
    writer.send(_bounded(parse_workbook(content, **parse_options)))
    writer.close()


def _bounded(parsed: ParsedWorkbook) -> ParsedWorkbook:
    if len(parsed.errors) <= MAX_ERRORS_RETURNED:
        return parsed
    total = len(parsed.errors)
    summary = CellError("too_many_errors", f"共有 {total} 处问题，以下只列出前 {MAX_ERRORS_RETURNED} 处",
                        f"{total} problems in all: only the first {MAX_ERRORS_RETURNED} are listed")
    return ParsedWorkbook(errors=[summary, *parsed.errors[:MAX_ERRORS_RETURNED]], row_count=parsed.row_count)


def _unreadable() -> ParsedWorkbook:
    return _refused("unreadable_workbook",
                    "无法读取此工作簿：读取时超出了服务器为单个文件设定的内存上限，或读取程序崩溃。文件可能已损坏，"
                    "或远大于一份上报数据：请把数据复制到平台模板中，另存为 .xlsx 后上传，必要时分成几个文件",
                    "the workbook could not be read: reading it went past the memory the server allows one file, "
                    "or the reader crashed. The file may be damaged or far larger than a report: copy the data "
                    "into the platform's template, save it as .xlsx and upload that, split into several files "
                    "if need be")


def _refused(code: str, zh: str, en: str) -> ParsedWorkbook:
    return ParsedWorkbook(errors=[CellError(code, zh, en)])


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = 0
    if value <= 0:
        log.warning("%s=%r is not a positive number: using %s", name, raw, default)
        return default
    return value
