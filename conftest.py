# Modules that run something when imported are not collected for doctests.
collect_ignore = ["souschef/__main__.py", "recipe_schema/__main__.py", "bench", "build",
                  # old names kept for one release: importing them warns (tests/recipe_schema/test_names.py)
                  "recipe_schema/chat.py", "recipe_schema/model.py"]
