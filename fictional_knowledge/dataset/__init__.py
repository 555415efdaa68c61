"""The build folder: writing, reading, validating, fingerprinting and describing a build."""
