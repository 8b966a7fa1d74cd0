"""``python -m winnow`` runs the CLI."""

if __name__ == "__main__":  # worker processes re-import the main module: do nothing there
    from winnow.cli.app import main

    main()
