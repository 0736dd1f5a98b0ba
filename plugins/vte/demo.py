"""`vte demo`: the whole product on synthetic data on the embedded warehouse, from hospitals to marts.

1. start the warehouse; 2. generate institutions and their submissions from the start of the last complete quarter
and register their accounts; 3. start the intake service and submit the data through the real HTTP interface
(most over JSON, some institutions' last week as Excel uploads); 4. run the pipeline once through Airflow
(ingest → dbt → GX gate → publish → feedback); 5. print the province's indicators for the last complete
month against their targets; 6. write the health commission's extracts of the last complete month and
quarter; 7. say where to look next.
"""

from __future__ import annotations

import json
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import typer

from vte import client, generator, pipeline, stack, warehouse
from vte.access import roles
from vte.config import Settings, get_settings
from vte.excel.template import filled_workbook
from vte.extracts.create import create_extract
from vte.extracts.periods import Period

INSTITUTIONS = 24
SEED = 2026
EXCEL_INSTITUTIONS = 2  # these report their last week through the Excel upload instead of JSON
EXCEL_DAYS = 7


def _say(message: str) -> None:
    typer.secho(f"==> {message}", fg="cyan", err=True)


def _quarter_start(day: date) -> date:
    return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)


def last_complete_month(end: date) -> date:
    """First day of the last month that ends on or before ``end``."""
    return ((end + timedelta(days=1)).replace(day=1) - timedelta(days=1)).replace(day=1)


def last_complete_quarter(end: date) -> Period:
    return Period(_quarter_start(_quarter_start(end + timedelta(days=1)) - timedelta(days=1)), "quarter")


def demo_period(today: date) -> tuple[date, date]:
    """From the first day of the last complete quarter to yesterday: the last complete month is inside too."""
    end = today - timedelta(days=1)
    return last_complete_quarter(end).start, end


def _credentials(settings: Settings, institutions) -> dict[str, dict]:
    """The demo institutions' accounts: registered on the first run, reused afterwards."""
    path = settings.generated_dir / "credentials.json"
    if path.exists():
        return json.loads(path.read_text())
    with warehouse.connect(autocommit=True) as conn:
        created = generator.register_institutions(conn, institutions, settings)
    creds = {code: {"accessKey": c.access_key, "accessSecret": c.access_secret} for code, c in created.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f)
    return creds


def _submit_all(url: str, creds: dict, submissions) -> dict[str, int]:
    outcome = {"accepted": 0, "refused": 0}

    def send(sub) -> bool:
        c = creds[sub.institution_code]
        answer = client.submit(url, c["accessKey"], c["accessSecret"], {"date": sub.date, "data": sub.data})
        return answer.get("code") == 0

    with ThreadPoolExecutor(max_workers=8) as pool:
        for ok in pool.map(send, submissions):
            outcome["accepted" if ok else "refused"] += 1
    return outcome


def run(today: date | None = None) -> None:
    settings = get_settings()
    start, end = demo_period(today or date.today())

    _say(f"starting the warehouse under {settings.home}")
    warehouse.start(settings)

    _say(f"generating {INSTITUTIONS} institutions' submissions from {start} to {end}")
    institutions = generator.synthetic_institutions(INSTITUTIONS, SEED, start)
    creds = _credentials(settings, institutions)
    defects = generator.Defects(refusable=0.01, quarantine=0.003, warning=0.01)
    submissions = list(generator.iter_submissions(institutions, start, end, SEED, defects))
    excel_codes = {i.code for i in institutions[:EXCEL_INSTITUTIONS]}
    excel_from = (end - timedelta(days=EXCEL_DAYS - 1)).isoformat()
    by_excel = [s for s in submissions if s.institution_code in excel_codes and s.date >= excel_from]
    by_json = [s for s in submissions if not (s.institution_code in excel_codes and s.date >= excel_from)]

    _say("starting the intake service")
    intake, url = stack.start_intake(settings)
    try:
        _say(f"submitting {len(by_json)} daily reports through POST {url}/xt/api/submit")
        outcome = _submit_all(url, creds, by_json)
        _say(f"accepted {outcome['accepted']}, refused {outcome['refused']} (refused ones carry injected defects)")
        _upload_excel(url, creds, institutions[:EXCEL_INSTITUTIONS], by_excel, settings)
    finally:
        intake.terminate()
        intake.wait(timeout=30)

    _say("running the pipeline through Airflow: ingest → dbt → GX gate → publish → feedback")
    if not pipeline.run_once(settings):
        raise typer.Exit(1)

    _print_indicators(start, end)
    _write_extracts(end, settings)
    _print_where_to_look(settings)


def _upload_excel(url: str, creds: dict, institutions, submissions, settings: Settings) -> None:
    for inst in institutions:
        payloads = [{"date": s.date, "data": s.data} for s in submissions
                    if s.institution_code == inst.code and not (s.defect or "").startswith("refusable")]
        if not payloads:
            continue
        path = settings.generated_dir / f"{inst.code}-last-week.xlsx"
        path.write_bytes(filled_workbook(payloads))
        c = creds[inst.code]
        answer = client.upload(url, c["accessKey"], c["accessSecret"], path.name, path.read_bytes())
        _say(f"uploaded {path.name} through POST {url}/xt/api/upload: code {answer.get('code')}, "
             f"{len((answer.get('data') or {}).get('submissions', []))} dates accepted")


def _print_indicators(start: date, end: date) -> None:
    month = last_complete_month(end)
    with warehouse.connect(role=roles.EXTRACTS) as conn:
        rows = conn.execute(
            """
            select v.indicator_id, i.name_zh, v.numerator, v.denominator, v.rate, v.target, v.meets_target
            from marts.fct_indicator_values as v
            join marts.dim_indicators as i on i.indicator_id = v.indicator_id
            where v.level = 'province' and v.period_type = 'month' and v.period_start = %s
            order by i.is_supplementary, v.indicator_id
            """,
            (month,),
        ).fetchall()
    typer.echo(f"\n浙江省 VTE quality indicators, {month:%Y-%m} (province level)\n")
    typer.echo(f"{'id':<7}{'indicator':<34}{'numerator':>10}{'denominator':>12}{'rate %':>9}{'target':>8}  met")
    for indicator_id, name, num, den, rate, target, met in rows:
        rate_text = f"{rate:.2f}" if rate is not None else "-"
        target_text = f"≥{target:g}" if target is not None else ""
        met_text = {True: "yes", False: "NO", None: ""}[met]
        typer.echo(f"{indicator_id:<7}{_pad(name, 34)}{num:>10}{den:>12}{rate_text:>9}{target_text:>8}  {met_text}")


def _write_extracts(end: date, settings: Settings) -> None:
    """The health commission's extracts of the last complete month and quarter, for the province."""
    typer.echo("\nExtracts for the health commission:")
    for period in (Period(last_complete_month(end), "month"), last_complete_quarter(end)):
        extract = create_extract(period, actor="vte demo", settings=settings)
        typer.echo(f"  {period.period_type:<8} {extract.directory}")
        for path in extract.paths:
            typer.echo(f"      {path.name}")


def _pad(text: str, width: int) -> str:
    """Left-align in a terminal, where a Chinese character takes two columns."""
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(1, width - columns)


def _print_where_to_look(settings: Settings) -> None:
    typer.echo(f"""
Where to look:
  warehouse (psql):   psql "$(vte warehouse url)"   — marts.fct_indicator_values, marts.dim_*
  an analyst's login: vte analysts create --name wz_analyst --region 330300   (sees that city's rows only)
  review and lock:    vte review status --region 330000 --month <YYYY-MM>
  Airflow UI:         vte up   (then http://127.0.0.1:8080; DAGs vte_ingest, vte_transform)
  dbt docs:           vte dbt docs generate && open {settings.home / 'dbt' / 'target' / 'index.html'}
  GX Data Docs:       {settings.home / 'gx-docs' / 'index.html'}
                      or in the console at /quality/gx/: vte console, signed in as an admin
                      (vte users create --username dc_admin --role admin --region 330000)
  feedback reports:   {settings.home / 'feedback'}/<institution>/latest.html
  landing zone:       {settings.landing_dir}
""")
