"""The words users read for the pipeline's codes: statuses, severities, how urgent a chase
is, and their colours. One home, so that the command, the Prefect artifacts, the workbooks
and the warehouse's views say the same thing (campaign-rules.md: statuses). A campaign's
name is the campaign calendar's (transforms/campaign_calendar.py)."""
from __future__ import annotations

# campaign-rules.md, "Statuses": the warehouse codes and their French labels, in the order
# a summary lists them
STATUS_LABELS = {
    "on_time": "à l'heure", "late": "en retard", "invalid": "invalide",
    "missing": "manquant", "covered": "couvert", "unexpected": "inattendu",
}
# Who to chase first: nothing received, then errors to correct, then late but done.
CHASE_ORDER = {"missing": 0, "invalid": 1, "late": 2}
CHASE_REASONS = {
    "missing": "aucun envoi reçu",
    "invalid": "envoi reçu mais non valide : erreurs à corriger",
    "late": "envoi valide reçu après la date limite",
}
# Fill colours (RGB) of a status in a workbook
STATUS_COLOURS = {"missing": "F8CBAD", "invalid": "FFE699", "late": "DDEBF7", "on_time": "C6EFCE",
                  "covered": "E2EFDA", "unexpected": "D9D9D9"}

# submission-template.md: E = error (bloquant), W = warning (avertissement)
SEVERITY_LABELS = {"error": "bloquant", "warning": "avertissement"}


def vocabulary_tables() -> dict[str, list[dict]]:
    """The warehouse's status_vocabulary and severity_vocabulary rows (sql/migrations/060),
    so that the views and analysts' queries read the same words."""
    statuses = [{"status": code, "label": label, "list_order": order, "chase_order": CHASE_ORDER.get(code),
                 "chase_reason": CHASE_REASONS.get(code), "colour": STATUS_COLOURS[code]}
                for order, (code, label) in enumerate(STATUS_LABELS.items())]
    severities = [{"severity": code, "label": label} for code, label in SEVERITY_LABELS.items()]
    return {"status_vocabulary": statuses, "severity_vocabulary": severities}

