"""dbowner: data-ownership checker for microservices."""

__version__ = "0.1.0"
