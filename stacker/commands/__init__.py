"""One module per subcommand; each defines `register(app)` and stays thin over the library."""
