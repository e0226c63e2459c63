"""Where the shipped data (templates/, schemas/) is, installed or in a checkout."""

import importlib.resources
from pathlib import Path


def data_dir(name: str) -> Path:
    # A wheel carries templates/ and schemas/ inside the package (pyproject force-include); an editable
    # install or a checkout has them at the top level, beside generator/.
    packaged = importlib.resources.files("generator") / "_data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / name
