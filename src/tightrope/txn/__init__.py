"""Transaction engine: steps with commit()/rollback(), state directory, journal."""
