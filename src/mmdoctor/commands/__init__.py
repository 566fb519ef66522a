"""One module per command, each a plain `run(options, ui) -> Result` (tests call them in
process); cli.py only parses options into them and renders what they return."""
