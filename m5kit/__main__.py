"""``python -m m5kit``: the ``m5kit`` command, for an environment whose scripts are not on the PATH."""

from m5kit.cli import main

if __name__ == "__main__":
    main()
