"""Men's Circle: a Django platform for running men's support circles.

Kept free of imports so that ``python3 -m mensc`` runs on a bare interpreter.
"""

__version__ = "0.1.0"
