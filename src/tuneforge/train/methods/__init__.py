"""Training methods, one folder each: config.py, loss.py, recipe.py, and the folder's
__init__.py declaring the method (method.py); registry.py collects the declarations."""
