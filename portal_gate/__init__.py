"""``portal-gate``: ask the Lineage Portal's deploy gate from CI. Standard library only (see cli.py)."""
