"""A seeded, reproducible sample campaign with its expected answer (`generate_sample`)."""
from observatoire.sample.generator import CampaignPaths, SampleManifest, generate_sample

__all__ = ["CampaignPaths", "SampleManifest", "generate_sample"]
