# Modules that run something when imported are not collected for doctests.
collect_ignore = ["souschef/__main__.py", "recipe_schema/__main__.py", "bench", "build"]
