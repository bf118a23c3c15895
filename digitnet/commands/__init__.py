"""Command groups that live outside cli.py; each module registers its commands on ``cli.main``."""
