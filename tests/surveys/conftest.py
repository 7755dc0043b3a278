from tests.service.conftest import travel  # noqa: F401  (time travel for the survey delay)
