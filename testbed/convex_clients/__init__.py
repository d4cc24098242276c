"""The official Convex clients, each driven line by line from a test: the npm package's
``ConvexClient`` (``npm_client.mjs``) and the PyPI ``convex`` client (``pypi_client.py``),
the real counterparts of the stand-in's sync protocol."""
