"""The fleet-scale bench (`make bench`, scripts/bench.py) and the synthetic config repos it renders.

Nothing here is part of the product or imported by it; tests/unit/test_fleet.py shares `bench.fleet`.
"""
