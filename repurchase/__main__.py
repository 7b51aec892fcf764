"""`python -m repurchase` runs the console command."""

from repurchase.cli import main

main()
