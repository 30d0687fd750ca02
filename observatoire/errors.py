"""Errors that stop a run, with the one French line the user sees on stderr."""


class CampaignError(Exception):
    """The campaign cannot be consolidated (bad referential, warehouse, arguments)."""


class SampleError(Exception):
    """The sample cannot be written there; the message is French."""


class RunRefused(CampaignError):
    """The run's inputs look like a mistake (transforms/guards.py): nothing was replaced;
    the message says what looks wrong and which guard to force to go on anyway."""

    def __init__(self, refusal):
        super().__init__(refusal.message())
        self.refusal = refusal
