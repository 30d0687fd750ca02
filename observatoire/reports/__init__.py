"""What the ARS sends back to centres and keeps for itself after a run (files written at the edge)."""


def campaign_options(parser) -> None:
    """The options of every command that writes a campaign's workbooks from the warehouse
    (`relance`, `retours`): which campaign, which regions, which warehouse."""
    parser.add_argument("--year", type=int, required=True, help="année d'exercice N de la campagne")
    parser.add_argument("--region", action="append", dest="regions",
                        help="code région COG (répétable ; défaut : toutes les régions de la campagne)")
    parser.add_argument("--warehouse", help="URL SQLAlchemy de l'entrepôt, qui doit exister (défaut : variable "
                                            "OBSERVATOIRE_WAREHOUSE_URL, sinon sqlite:///warehouse.db)")
