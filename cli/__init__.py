"""The ``zoo`` command line (installed as ``zoo.cli``): a thin shell over the Python API."""
