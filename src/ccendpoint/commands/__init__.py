"""One module per command family; each command parses, calls the core, renders."""
