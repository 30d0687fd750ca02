"""What the command says when a person gets it wrong: argparse's frame (usage, option
groups, its error lines) and pydantic's validation messages, in French, so that no English
line reaches an ARS user (interfaces.md: one clear line on stderr)."""
from __future__ import annotations

import argparse
from importlib import metadata

# argparse looks these texts up through `_`/`ngettext` each time it formats them
# (Python 3.11 argparse); anything not listed stays as argparse wrote it.
_ARGPARSE = {
    "usage: ": "usage : ",
    "positional arguments": "arguments",
    "options": "options",
    "optional arguments": "options",
    "show this help message and exit": "afficher cette aide et quitter",
    "show program's version number and exit": "afficher la version et quitter",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "unrecognized arguments: %s": "arguments non reconnus : %s",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "one of the arguments %s is required": "un des arguments %s est obligatoire",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (possibles : %(choices)s)",
    "invalid %(type)s value: %(value)r": "valeur invalide : %(value)r (%(type)s attendu)",
    "expected one argument": "une valeur attendue",
    "expected at most one argument": "une valeur au plus attendue",
    "expected at least one argument": "une valeur au moins attendue",
    "not allowed with argument %s": "incompatible avec l'argument %s",
    "ignored explicit argument %r": "valeur explicite %r ignorée",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "unexpected option string: %s": "option inattendue : %s",
    "%r is not callable": "%r n'est pas appelable",
    "cannot merge actions - two groups are named %r": "deux groupes d'options portent le nom %r",
    "conflicting subparser: %s": "sous-commande en double : %s",
    "conflicting subparser alias: %s": "alias de sous-commande en double : %s",
    "argument \"-\" with mode %r": "argument « - » en mode %r",
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir « %(filename)s » : %(error)s",
}
_ARGPARSE_PLURAL = {
    "expected %s argument": ("%s valeur attendue", "%s valeurs attendues"),
}
# the names argparse puts in "invalid %(type)s value"
_TYPE_NAMES = {"int": "nombre entier", "float": "nombre", "Path": "chemin"}


def _gettext(text: str) -> str:
    return _ARGPARSE.get(text, text)


def _ngettext(singular: str, plural: str, n: int) -> str:
    french = _ARGPARSE_PLURAL.get(singular)
    if french is None:
        return singular if n == 1 else plural
    return french[0] if n == 1 else french[1]


def install() -> None:
    """Make argparse speak French in this process (the command is the whole process)."""
    argparse._ = _gettext
    argparse.ngettext = _ngettext
    # "invalid int value" names the converter; give the built-ins French names
    original = argparse.ArgumentParser._get_value

    if getattr(original, "_french", False):
        return

    def _get_value(self, action, arg_string):
        try:
            return original(self, action, arg_string)
        except argparse.ArgumentError as exc:
            name = getattr(action.type, "__name__", None)
            if name in _TYPE_NAMES:
                raise argparse.ArgumentError(action, exc.message.replace(f"({name} attendu)",
                                                                         f"({_TYPE_NAMES[name]} attendu)")) from None
            raise

    _get_value._french = True
    argparse.ArgumentParser._get_value = _get_value


def version() -> str:
    try:
        return metadata.version("observatoire-cds")
    except metadata.PackageNotFoundError:  # run from a checkout that was not installed
        return "inconnue"


# pydantic error types -> French, with the constraint values pydantic puts in `ctx`
_PYDANTIC = {
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "greater_than": "doit être supérieur à {gt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "less_than": "doit être inférieur à {lt}",
    "int_parsing": "nombre entier attendu",
    "int_type": "nombre entier attendu",
    "int_from_float": "nombre entier attendu",
    "string_type": "texte attendu",
    "list_type": "liste attendue",
    "bool_parsing": "oui ou non attendu",
    "missing": "valeur obligatoire",
    "extra_forbidden": "paramètre inconnu",
    "too_short": "au moins {min_length} valeur(s) attendue(s)",
    "too_long": "au plus {max_length} valeur(s) attendue(s)",
}


def validation_message(exc, model=None) -> str:
    """One French line for a pydantic ValidationError: each failed field by its French
    title (the one the Prefect form shows) with what was expected."""
    parts = []
    fields = getattr(model, "model_fields", {}) if model is not None else {}
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        field = fields.get(loc[0]) if loc else None
        label = (field.title if field is not None and field.title else ".".join(loc)) or "paramètre"
        kind = error.get("type", "")
        if kind == "value_error":
            # our own validators already speak French; pydantic prefixes "Value error, "
            text = str(error.get("ctx", {}).get("error", error.get("msg", "")))
        elif kind in _PYDANTIC:
            try:
                text = _PYDANTIC[kind].format(**error.get("ctx", {}))
            except (KeyError, IndexError):
                text = _PYDANTIC[kind]
        else:
            text = f"valeur refusée ({kind})"
        received = error.get("input")
        shown = "" if kind == "missing" or isinstance(received, dict) else f", reçu « {received} »"
        parts.append(f"{label} : {text}{shown}")
    return "; ".join(parts)
