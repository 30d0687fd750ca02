"""`observatoire sql`: an analyst's query on the warehouse, shown as a table on a terminal,
or written whole as CSV or XLSX for a spreadsheet. The row count is always given, and a
table cut for the screen says so."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

FORMATS = ("table", "csv", "xlsx")
SCREEN_ROWS = 200  # rows shown by the table format by default; csv and xlsx write every row


def add_parser(sub) -> None:
    query = sub.add_parser(
        "sql", help="exécuter une requête SQL sur l'entrepôt et afficher ou écrire le résultat",
        description="Exécute une requête SELECT sur l'entrepôt. Le nombre de lignes est toujours indiqué ; "
                    "le format table coupe à --limite lignes et le dit, csv et xlsx écrivent tout.")
    query.add_argument("requete", help="requête SELECT, par exemple « SELECT * FROM v_conformite_region »")
    query.add_argument("--format", choices=FORMATS, default="table",
                       help="table (défaut : lisible à l'écran, pleine largeur dans un tube), csv (séparateur ;) "
                            "ou xlsx (avec --output)")
    query.add_argument("--output", "-o", type=Path,
                       help="fichier où écrire le résultat (obligatoire pour xlsx ; défaut : la sortie standard) ; "
                            "dans un fichier, un texte commençant par =, +, -, @ est précédé d'une apostrophe "
                            "pour qu'un tableur ne l'exécute pas")
    query.add_argument("--limite", type=int, default=SCREEN_ROWS, metavar="N",
                       help=f"lignes affichées au format table (défaut : {SCREEN_ROWS} ; 0 : toutes)")
    query.add_argument("--warehouse",
                       help="URL SQLAlchemy de l'entrepôt, qui doit exister (défaut : variable "
                            "OBSERVATOIRE_WAREHOUSE_URL, sinon sqlite:///warehouse.db ; un simple chemin est un "
                            "fichier SQLite)")


def run(args) -> int:
    from observatoire.errors import CampaignError

    if args.format == "xlsx" and args.output is None:
        raise CampaignError("le format xlsx s'écrit dans un fichier : ajoutez --output resultat.xlsx")
    if args.limite < 0:
        raise CampaignError("--limite attend un nombre de lignes positif (0 : toutes)")
    frame = fetch(args.requete, args.warehouse)
    rows = frame.height
    noun = "ligne" if rows < 2 else "lignes"
    if args.format == "csv":
        if args.output:  # a file is for a spreadsheet: no text of it may open as a formula
            from observatoire.reports.cells import neutralised_text_columns

            _write(args.output, neutralised_text_columns(frame).write_csv(separator=";"))
            print(f"{rows} {noun} écrite{'s' if rows > 1 else ''} dans {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(frame.write_csv(separator=";"))
            print(f"{rows} {noun}", file=sys.stderr)
        return 0
    if args.format == "xlsx":
        write_xlsx(frame, args.output)
        print(f"{rows} {noun} écrite{'s' if rows > 1 else ''} dans {args.output}", file=sys.stderr)
        return 0
    shown = frame if args.limite == 0 else frame.head(args.limite)
    table = render_table(shown, sys.stdout.isatty())
    footer = f"{rows} {noun}"
    if shown.height < rows:
        footer += (f" ({shown.height} affichées ; --limite 0 pour tout afficher, "
                   "ou --format csv / xlsx pour tout écrire)")
    if args.output:
        _write(args.output, table + "\n" + footer + "\n")
        print(f"{footer} ; écrit dans {args.output}", file=sys.stderr)
    else:
        print(table)
        print(footer)
    return 0


def _write(path: Path, text: str) -> None:
    from observatoire.outputs import write_output

    write_output(path.parent, path.name, text.encode("utf-8"))  # never through a link planted there


def fetch(sql: str, warehouse_url: str | None):
    import polars as pl
    import sqlalchemy as sa

    from observatoire import preflight, warehouse
    from observatoire.errors import CampaignError

    preflight.say_plain_path(warehouse_url)
    engine = warehouse.connect(warehouse_url, existing=True)  # reads: a mistyped path is not a new warehouse
    try:
        with engine.connect() as connection:
            try:
                result = connection.execute(sa.text(sql))
            except sa.exc.SQLAlchemyError as exc:
                raise CampaignError(f"requête refusée par l'entrepôt : {getattr(exc, 'orig', exc)}") from exc
            if not result.returns_rows:
                raise CampaignError("la requête ne renvoie pas de lignes : observatoire sql attend un SELECT")
            return pl.DataFrame([tuple(row) for row in result], schema=list(result.keys()), orient="row",
                                infer_schema_length=None)
    finally:
        engine.dispose()


def render_table(frame, on_terminal: bool) -> str:
    """On a terminal the table fits the window (long texts cut); piped, every column at
    full width, one line per row, so `| less -S` or a file keeps it readable."""
    import polars as pl

    if on_terminal:
        width = shutil.get_terminal_size((120, 40)).columns
        config = dict(tbl_width_chars=width, fmt_str_lengths=60)
    else:
        longest = max((len(str(v)) for column in frame.iter_columns() for v in column.to_list()), default=10)
        config = dict(tbl_width_chars=65_535, fmt_str_lengths=max(longest, 10))  # polars: u16
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True,
                   **config):
        return str(frame)


def write_xlsx(frame, path: Path) -> None:
    """One sheet, header frozen and filtered; text cells stay text (no formula)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    from observatoire.outputs import save_workbook
    from observatoire.reports.cells import write_row

    book = Workbook()
    sheet = book.active
    sheet.title = "Résultat"
    write_row(sheet, 1, list(frame.columns))
    for number, row in enumerate(frame.iter_rows(), start=2):
        write_row(sheet, number, row)
    sheet.freeze_panes = "A2"
    if frame.width:
        sheet.auto_filter.ref = f"A1:{get_column_letter(frame.width)}{max(frame.height, 1) + 1}"
    for index, column in enumerate(frame.columns, start=1):
        values = [str(column)] + [str(v) for v in frame.get_column(column).head(500).to_list() if v is not None]
        sheet.column_dimensions[get_column_letter(index)].width = min(60, max(8, max(len(v) for v in values) + 2))
    save_workbook(book, path.parent, path.name)
