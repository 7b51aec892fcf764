"""`python -m repurchase` runs the console command."""

from repurchase.cli import main

# Guarded: worker processes (`--workers`) start by importing the parent's main module.
if __name__ == "__main__":
    main()
