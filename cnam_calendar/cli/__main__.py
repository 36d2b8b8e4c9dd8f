"""`python -m cnam_calendar.cli`."""

from cnam_calendar.cli.main import main

if __name__ == "__main__":
    main()
