"""``python -m winnow`` runs the CLI."""

from winnow.cli import main

if __name__ == "__main__":  # worker processes re-import the main module: do nothing there
    main()
