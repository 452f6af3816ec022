"""Shared pytest fixtures."""

import sys
from pathlib import Path

import pytest

# Make tests/fixturegen.py importable whatever pytest's import mode is.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

import fixturegen  # noqa: E402


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """Every seed rendered once in every format: {(seed_filename, fmt): Path}."""
    return fixturegen.render_all(tmp_path_factory.mktemp("generated"))
from llmstub import llm_stub  # noqa: E402,F401  (the OpenAI-compatible stub server fixture)
