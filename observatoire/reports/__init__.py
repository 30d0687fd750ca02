"""What the ARS sends back to centres and keeps for itself after a run (files written at the edge)."""


def campaign_options(parser) -> None:
    """The options of every command that writes a campaign's workbooks from the warehouse
    (`relance`, `retours`): which campaign, which regions, which warehouse."""
    parser.add_argument("--year", type=int, required=True, help="année d'exercice N de la campagne")
    parser.add_argument("--region", action="append", dest="regions",
                        help="code région COG (répétable ; défaut : toutes les régions de la campagne)")
    parser.add_argument("--warehouse", help="URL SQLAlchemy de l'entrepôt, qui doit exister (défaut : variable "
                                            "OBSERVATOIRE_WAREHOUSE_URL, sinon sqlite:///warehouse.db)")


def on_existing_warehouse(command: str, url: str | None, work):
    """`work(engine)` on the warehouse at `url`, which must exist (these commands read it,
    never create one); a problem is one French line on stderr naming `command`, and None."""
    import sys

    import sqlalchemy as sa

    from observatoire import preflight, warehouse
    from observatoire.errors import CampaignError

    try:
        preflight.say_plain_path(url, command)
        return work(warehouse.connect(url, existing=True))
    except CampaignError as exc:
        print(f"{command} : {exc}", file=sys.stderr)
    except sa.exc.OperationalError as exc:  # e.g. a warehouse created before the views existed
        print(f"{command} : entrepôt illisible ({exc.orig}) ; relancer `observatoire run`.", file=sys.stderr)
    return None
