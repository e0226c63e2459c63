"""`python -m generator`: the same as the `gitops-gen` command."""

from .cli import main

main()
