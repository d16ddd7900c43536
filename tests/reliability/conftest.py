from tests.api.conftest import api  # noqa: F401  (the API fixture serves these tests too)
