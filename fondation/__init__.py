"""Fondation worker: shared configuration, errors and the operator CLI."""
