"""Settings per environment: ``base`` holds everything, the others adjust it."""
