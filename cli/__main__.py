"""`python -m cli ...`: the name compose, the images and the tests call the CLI by.
The one import of the ground floor upward, allowed by name in pyproject.toml's contracts."""

from cli.main import main

main()
