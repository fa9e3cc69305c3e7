"""tightrope: change a remote box's network without locking yourself out."""

__version__ = "0.1.0"

# Beside __main__.py in tightrope's zipapp and in the tree a box unpacks it into: "this
# directory is a whole tightrope app, run it as one" (txn.launch starts the runner from it).
APP_MARK = ".tightrope-app"
