from vte.cli import app

app(prog_name="vte")
