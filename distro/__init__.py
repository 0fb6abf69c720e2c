"""distro: plan a parallel migration from DynamoDB upload counts."""

__version__ = "0.1.0"
