"""What the ARS sends back to centres and keeps for itself after a run (files written at the edge)."""
