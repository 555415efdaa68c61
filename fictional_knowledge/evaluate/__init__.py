"""Scoring models on a build, training-dynamics metrics, results files and leaderboards."""
