"""Test helpers shared across test packages (request builders for the Slack surface)."""
