"""stacker: keep a bundle branch of open upstream pull requests alive on a moving upstream."""

__version__ = "0.1.0"
