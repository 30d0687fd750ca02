"""Errors that stop a run, with the one French line the user sees on stderr."""


class CampaignError(Exception):
    """The campaign cannot be consolidated (bad referential, warehouse, arguments)."""


class SampleError(Exception):
    """The sample cannot be written there; the message is French."""
